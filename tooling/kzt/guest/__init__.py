"""What runs inside the guest: standard library and pytest only.

Nothing here imports the host side of kzt (the host imports from here):

| module | what |
|---|---|
| `lib` | the guest library vm-tests import (`from kzt.guest import lib as kg`): disks, swap, ext4, sysfs, workload programs, fault injection |
| `counters` | the counter snapshot and its derived figures: the one place that names counters |
| `seam` | the versioned JSON documents host and guest exchange, checked on both sides |
| `schema` | the checker those documents and the host's data files share |
| `runner` | `python -m kzt.guest.runner JOB.json`: pytest over vm-tests in one boot group |
| `plugin` | the pytest plugin for boot groups (`-p kzt.guest.plugin`) |
| `work` | `python -m kzt.guest.work JOB.json`: one workload with its configuration |
"""
