"""kzt: build, boot and test Linux with the kztmem driver."""

__version__ = "0.1.0"
