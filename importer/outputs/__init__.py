"""Outputs: what a run leaves for people and programs, fed the same row outcomes.

results.py      success.csv and failures.csv, a row as it finishes, rebuilt from the journal
                on a resume; summary.json
calllog.py      calls.jsonl: every call and its outcome, keys never in it
progress.py     the ``Progress`` a run reports to: a silent one, a counting one (the bar on a
                    terminal is the command line's, ``cli/progress.py``)
"""
