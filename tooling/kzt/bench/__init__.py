"""`kzt bench`: kztmem against its peers on one kernel image.

| module | what |
|---|---|
| `plan` | the request and the plan: variants (CONFIG@DISK) x workloads x repetitions, in blocks with a seeded order; shards; a plan's signature |
| `provenance` | what a bench was measured on (the image's SHA-256, the toolkit commit) |
| `stats` | paired ratios, bootstrap intervals, verdicts |
| `records` | one record per run (status, figures) and their aggregation into cells |
| `report` | report.json, report.html and the summary table |
| `kcidb` | the runs in KCIDB's I/O schema (v4) |
| `merge` | `kzt bench merge`: the shards of one plan into one bench directory |
| `pair` | `kzt bench pair`: two variants of one bench, their paired ratios per workload and metric |
| `compare` | `kzt bench compare`: two benches of one plan, their headlines and rankings (ties by `pair`'s intervals) side by side |
| `loop` | the run loop (resume, reruns), the machine's description and `kzt bench` itself |

Each imports only those above it in this table.
"""
