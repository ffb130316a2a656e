"""op25b's benchmark harness: measurements against same-run baselines, in namespaces it creates.

`python -m bench run` measures and writes bench/results/*.json; `python -m bench plot` draws them.
See docs/performance.md for what each metric means and the figures from the last full run.
"""
