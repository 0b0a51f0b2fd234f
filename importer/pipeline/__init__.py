"""The import itself: one ``RunRequest`` carried out, from the first check to ``summary.json``.

request.py      ``RunRequest``, ``RunOptions``, ``StopSwitch``: what a run is asked to do
runner.py       ``run_import``: the checks before anything is sent, then the pool, then
                the files closed and written, on a stop too
pool.py         the queue, the workers, one lead's rows in file order, the stop
outcomes.py     each row's outcome into the journal, the summary, the outputs, the progress
journal.py      the SQLite journal, the truth about each row (snapshot.py: what a resumed
                run reads from it)
summary.py      ``RunSummary``: what a run did, and its exit code
rundir.py       the run folder's files and the checks on them (``importer/outdir.py``: every
                file its owner's only, nothing written over); folder_lock.py: one run per
                folder
"""
