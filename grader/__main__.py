"""`python -m grader`: the command line (grader/cli)."""

import gc
import sys

if "grade" in sys.argv[1:4] and "--cluster" not in sys.argv:
    # the local workers' fork server imports the grader (0.4 s) before it forks the first worker: started now, it
    # does so on another core while this process imports the command line, not after (a batch's first result that
    # much sooner). Its preload is the one pipeline._grade_in_workers asks for: a server already running is kept.
    import multiprocessing.forkserver

    multiprocessing.forkserver.set_forkserver_preload(["grader.pipeline"])
    multiprocessing.forkserver.ensure_running()

from grader.cli import main  # noqa: E402

code = main()
# the interpreter's last collection at exit walks every object the command loaded (a tenth to a quarter of a
# second after a grading) to free memory the exit frees anyway
gc.freeze()
sys.exit(code)
