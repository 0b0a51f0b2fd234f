"""The exit codes of ``lsq-import``: stable, for scripts and schedulers (README lists them)."""

OK = 0  # every row succeeded
ROWS_FAILED = 1  # some rows failed: failures.csv says why
CONFIG = 2  # a mapping, file or option error, found before anything was sent
STOPPED = 3  # LeadSquared stopped the run (bad keys, wrong host, a host that never answered)
MAX_ROWS_LEFT = 4  # --max-rows reached with rows left for the next run
#: a file under --out (or the --log file) could not be written: a full disk, a folder made
#: read-only or removed (as sysexits' EX_IOERR). The run stopped as a graceful stop does; once
#: the folder can be written, the same command resumes
CANNOT_WRITE = 74
HOST_DOWN = 75  # the host stopped answering for longer than --outage-limit: run again to resume
BY_SIGNAL = {"SIGINT": 130, "SIGTERM": 143}  # stopped by a signal: run again to resume
