"""`kzt bench`: kztmem against its peers on one kernel image.

| module | what |
|---|---|
| `plan` | the request and the plan: variants (CONFIG@DISK) x workloads x repetitions |
| `records` | one record per run (status, figures) and their aggregation |
| `report` | report.json, report.html and the summary table |
| `loop` | the run loop, the machine's description and `kzt bench` itself |

Each imports only those above it in this table.
"""
