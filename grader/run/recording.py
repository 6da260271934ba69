# ruff: noqa: B036
"""What runs while a graded function is called (the rubric's `watch`): sent into the student's kernel with the
probe, and stamped into the students' self-check, so that both record alike.

Neither imports anything of the grader: `harvest.py` sends this text before `kernel_probe.py`'s, and
`tools/build_student_bundle.py` stamps it into `selfcheck.py`. Functions build the classes from the modules
they are given, so that nothing of them lands in the namespace they run in.

Two parts. The *watch* is installed when the kernel starts, before any of the notebook's code: it knows the
kernel's own threads and processes, hooks every thread started afterwards, and so sees helpers a notebook
starts in an earlier cell (a worker thread fed through a queue, a forked server behind pipes). The
*recording* is in force during one graded call: what that call, and every thread and child process of the
kernel meanwhile, ran.
"""


def _grader_watch(sys, _thread, threading, time, os):
    """The Watch class: `Watch().install()` at the kernel's start; a Recording then reads it."""
    sys_setprofile = sys.setprofile
    # a thread without our hook that used less CPU than this during a call did nothing there; a thread whose
    # hook was removed (sys.setprofile in it) is allowed none
    silent_cpu_ns = 1_000_000

    def thread_cpu_ns(ident):
        try:
            return time.clock_gettime_ns(time.pthread_getcpuclockid(ident))
        except (AttributeError, OSError, OverflowError):  # no such thread any more, or no such clock here
            return None

    def processes():
        """{(pid, start time): (parent pid, state)} of every process this machine's /proc shows ({} without one)."""
        found = {}
        try:
            entries = os.listdir("/proc")
        except OSError:
            return found
        for entry in entries:
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat", "rb") as file:
                    stat = file.read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2 :].split()  # after the command's name, which may hold anything
            found[(int(entry), int(fields[19]))] = (int(fields[1]), fields[0].decode())
        return found

    def task_times(pid):
        """{thread id: (nanoseconds on a CPU, times put on a CPU)} of one process's threads (the scheduler's
        count of times put on a CPU grows the moment a sleeping thread wakes, before it can do anything)."""
        times = {}
        try:
            tasks = os.listdir(f"/proc/{pid}/task")
        except OSError:
            return times
        for task in tasks:
            try:
                with open(f"/proc/{pid}/task/{task}/schedstat") as file:
                    ran, _, slices = file.read().split()[:3]
                times[task] = (int(ran), int(slices))
            except (OSError, ValueError):
                continue
        return times

    class Watch:
        """The kernel's own threads and processes, every thread started since hooked, and the recording in force."""

        def __init__(self):
            self.own_threads = set(sys._current_frames())
            self.own_processes = set(processes())
            self.hooked = set()  # threads whose profile hook is `dispatch`
            self.recording = None  # the Recording in force: every hooked thread's calls go to it
            self.start_unwatched = _thread.start_new_thread

        def install(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_new_thread
            return self

        def uninstall(self):
            _thread.start_new_thread = threading._start_new_thread = self.start_unwatched

        def start_new_thread(self, function, args, kwargs=None):
            watch = self

            def hooked(*args, **kwargs):
                ident = _thread.get_ident()
                watch.hooked.add(ident)
                sys_setprofile(watch.dispatch)
                try:
                    return function(*args, **kwargs)
                finally:
                    watch.hooked.discard(ident)

            return self.start_unwatched(hooked, args, kwargs or {})

        def dispatch(self, frame, event, arg):
            if event == "c_call" and arg is sys_setprofile:  # this thread replaces its hook: out of our sight
                self.hooked.discard(_thread.get_ident())
            recording = self.recording
            if recording is not None:
                recording.heard.add(_thread.get_ident())
                recording.profile(frame, event, arg)

        def threads_now(self, caller):
            """{thread: CPU nanoseconds} of every Python thread but the kernel's own and the caller."""
            idents = set(sys._current_frames()) - self.own_threads - {caller}
            return {ident: thread_cpu_ns(ident) for ident in idents}

        def unseen_threads(self, before, caller, heard):
            """The threads that ran during a call without being heard by the recording: "" if none."""
            after = self.threads_now(caller)
            for ident in sorted(set(before) | set(after)):
                if ident in heard:
                    continue
                start, end = before.get(ident), after.get(ident)
                if ident in before and ident not in after:  # it ended during the call: it ran
                    return "a thread started before the call"
                allowed = silent_cpu_ns if ident in self.hooked else 0
                if end is not None and end - (start or 0) > allowed:
                    name = getattr(threading._active.get(ident), "name", "")
                    return f"a thread ({name})" if name else "a thread"
            return ""

        def processes_now(self):
            """{(pid, start): (state, its threads' times)} of the notebook's processes: the kernel's descendants
            that were not there when the watch began."""
            table = processes()
            children = {}
            for key, (parent, _) in table.items():
                children.setdefault(parent, []).append(key)
            found, pending = {}, [key for key in table if key[0] == os.getpid()]
            while pending:
                for child in children.get(pending.pop()[0], []):
                    if child not in found and child not in self.own_processes:
                        found[child] = (table[child][1], task_times(child[0]))
                        pending.append(child)
            return found

        def processes_that_ran(self, before):
            """The processes that ran (or started, or ended) during a call: "" if none."""
            after = self.processes_now()
            for key, (state, times) in after.items():
                if key not in before:
                    return f"a process (pid {key[0]}) started during the call"
                if state == "R" or times != before[key][1]:
                    return f"a process (pid {key[0]}) the notebook started earlier"
            ended = sorted(set(before) - set(after))
            return f"a process (pid {ended[0][0]}) the notebook started earlier" if ended else ""

    return Watch


def _grader_recording(torch, sys, threading, os, watcher=None):
    """The Recording class: `with Recording(categories): function(...)`, then `.facts()`.

    `watcher`: the Watch installed at the kernel's start, through which the recording also hears every thread
    hooked since and sees the notebook's processes; without one, only threads started during the call."""
    from torch.overrides import TorchFunctionMode, resolve_name

    torch_root = os.path.dirname(torch.__file__) + os.sep
    autograd_functions = {
        "torch.Tensor.backward",
        "torch.autograd.grad",
        "torch.autograd.backward",
        "torch.Tensor.requires_grad_",
        "torch.Tensor.requires_grad.__set__",
        "torch.Tensor.retain_grad",
    }
    # turning tracking on is autograd; turning it off (requires_grad_(False)) is not: judged by its argument
    tracking_switches = {"torch.Tensor.requires_grad_", "torch.Tensor.requires_grad.__set__"}
    builtin_categories = {
        "run_backward": "autograd",
        "_run_backward": "autograd",
        "retain_grad": "autograd",
        "cross_entropy_loss": "cross_entropy",
    }
    # what starts a process: while a watched function runs, that is a breach of its rule whatever the process
    # does (work handed to a child is out of the recording's sight)
    process_starters = {"fork", "forkpty", "vfork", "fork_exec", "posix_spawn", "posix_spawnp", "execv", "execve"}
    process_starters |= {"system", "spawnv", "spawnve"}
    process_modules = {"posix", "nt", "os", "_posixsubprocess"}
    # calls that turn a layer of the recording off (torch itself pops the mode stack while it dispatches,
    # so the mode's removal is checked after the call instead)
    switches = {"setprofile", "settrace", "disable_saved_tensors_hooks", "_saved_tensors_hooks_disable"}
    genuine_profiler = all(
        getattr(f, "__self__", None) is sys and f.__name__ == name
        for f, name in ((sys.setprofile, "setprofile"), (sys.getprofile, "getprofile"))
    )

    def category_of_python(code):
        """The watched category of a Python function of torch's own, by file and name."""
        if not code.co_filename.startswith(torch_root):
            return None
        where = code.co_filename[len(torch_root) :].replace(os.sep, "/")
        name = code.co_qualname
        if where.startswith("optim/"):
            return "optimizer"
        if where in ("autograd/functional.py", "autograd/forward_ad.py") or where.startswith("func/"):
            return "autograd"
        if (where, name) in (("autograd/__init__.py", "backward"), ("autograd/__init__.py", "grad")):
            return "autograd"
        if (where, name) == ("_tensor.py", "Tensor.backward"):
            return "autograd"
        if (where, name) == ("nn/functional.py", "cross_entropy") or name.startswith("CrossEntropyLoss."):
            return "cross_entropy"
        return None

    class Recording:
        """Four layers: a profile hook on every Python and builtin call (this thread, and every thread the
        watch hooked or started meanwhile), a torch function mode on every torch call, a saved-tensors hook on
        any autograd graph, and the threads and processes that ran out of the hooks' hearing."""

        def __init__(self, categories):
            self.watch = set(categories)
            self.seen = {}
            self.switched_off = "" if genuine_profiler else "sys.setprofile was replaced before the call"
            self.active = False
            self.heard = set()  # the threads whose calls the profile hook heard during the call

        def note(self, category, what):
            if self.active and category in self.watch and category not in self.seen:
                self.seen[category] = what

        def started_process(self, how):
            if self.active and "process" not in self.seen:
                self.seen["process"] = how

        def profile(self, frame, event, arg):
            if not self.active:
                return
            if event == "call":
                name = frame.f_code.co_qualname
                if switches.intersection(name.split(".")) and not self.switched_off:
                    self.switched_off = name
                if name == "BaseProcess.start" and frame.f_code.co_filename.endswith("process.py"):
                    self.started_process("multiprocessing")  # whichever way it starts (a fork server too)
                self.note(category_of_python(frame.f_code), f"{frame.f_code.co_qualname} (torch)")
            elif event == "c_call":
                name = getattr(arg, "__name__", "")
                if name in switches and not self.switched_off:
                    self.switched_off = name
                if name in process_starters and getattr(arg, "__module__", None) in process_modules:
                    self.started_process(name)
                self.note(builtin_categories.get(name), name)
            elif event == "c_return" and getattr(arg, "__name__", "") == "requires_grad_":
                tensor = getattr(arg, "__self__", None)  # turned on, not off: seen on the tensor it returns from
                if isinstance(tensor, torch.Tensor) and tensor.requires_grad:
                    self.note("autograd", "requires_grad_")

        def graph_recorded(self, tensor):
            self.note("autograd", "an autograd graph (a tensor that requires grad)")
            return tensor

        def __enter__(self):
            recording = self

            class Watch(TorchFunctionMode):
                def __torch_function__(self, func, types, args=(), kwargs=None):
                    name = resolve_name(func) or getattr(func, "__name__", "")
                    if name in tracking_switches:
                        turned_on = args[1] if len(args) > 1 else (kwargs or {}).get("requires_grad", True)
                        if turned_on:
                            recording.note("autograd", name)
                    elif name in autograd_functions:
                        recording.note("autograd", name)
                    elif (kwargs or {}).get("requires_grad") is True:
                        recording.note("autograd", f"{name}(requires_grad=True)")
                    elif name.endswith(("cross_entropy", "cross_entropy_loss")):
                        recording.note("cross_entropy", name)
                    return func(*args, **(kwargs or {}))

            self.mode = Watch()
            self.mode.__enter__()
            self.depth = torch._C._len_torch_function_stack()
            self.hooks = torch.autograd.graph.saved_tensors_hooks(self.graph_recorded, lambda tensor: tensor)
            self.hooks.__enter__()
            self.caller = threading.get_ident()
            if watcher is None:
                threading.setprofile(self.profile)
            else:
                self.threads_before = watcher.threads_now(self.caller)
                self.processes_before = watcher.processes_now()
                watcher.recording = self
            self.active = True
            sys.setprofile(self.profile)
            return self

        def __exit__(self, *exc):
            intact = sys.getprofile() == self.profile
            self.active = False
            sys.setprofile(None)
            if watcher is None:
                threading.setprofile(None)
            else:
                watcher.recording = None
                if "helper" not in self.seen:
                    unseen = watcher.unseen_threads(self.threads_before, self.caller, self.heard)
                    unseen = unseen or watcher.processes_that_ran(self.processes_before)
                    if unseen:
                        self.seen["helper"] = unseen
            depth = torch._C._len_torch_function_stack()
            if not intact and not self.switched_off:
                self.switched_off = "the profile hook was replaced"
            if depth != self.depth or torch._C._get_function_stack_at(depth - 1) is not self.mode:
                self.switched_off = self.switched_off or "the torch function mode was removed"
            self.hooks.__exit__(*exc)
            self.mode.__exit__(*exc)
            return False

        def facts(self):
            return {"watched": dict(self.seen), "recording": self.switched_off or "intact"}

    return Recording


def _grader_install_watch():
    """Install the Watch at the kernel's start, where the probe finds it later (a module: nothing of it lands in
    the notebook's namespace)."""
    import _thread
    import os
    import sys
    import threading
    import time
    import types

    module = types.ModuleType("_grader_watch")
    module.watch = _grader_watch(sys, _thread, threading, time, os)().install()
    sys.modules[module.__name__] = module


def _grader_collect_less_often():
    """The kernel's garbage collector at its start, before the notebook's code: a full collection walks every
    object, and at CPython's thresholds the imports of a deep-learning notebook (torch, pandas, scikit-learn:
    450,000 objects) set off six of them, 0.8 s of a 5 s self-check. Young objects collected every 10,000
    allocations rather than 700, none happens while they import; what a collection frees is freed all the same,
    a little later."""
    import gc

    gc.set_threshold(10_000, 10, 10)
