# ruff: noqa: B036
"""What runs while a graded function is called (the rubric's `watch`): sent into the student's kernel with the
probe, and stamped into the students' self-check, so that both record alike.

Neither imports anything of the grader: `harvest.py` sends this text before `kernel_probe.py`'s, and
`tools/build_student_bundle.py` stamps it into `selfcheck.py`. One function builds the recording class from
the modules it is given, so that nothing of it lands in the namespace it runs in.
"""


def _messmaster_recording(torch, sys, threading, os):
    """The Recording class: `with Recording(watch): function(...)`, then `.facts()`."""
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
        """Three layers: a profile hook on every Python and builtin call (this thread and threads started
        meanwhile), a torch function mode on every torch call, a saved-tensors hook on any autograd graph."""

        def __init__(self, watch):
            self.watch = set(watch)
            self.seen = {}
            self.switched_off = "" if genuine_profiler else "sys.setprofile was replaced before the call"
            self.active = False

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
            threading.setprofile(self.profile)
            self.active = True
            sys.setprofile(self.profile)
            return self

        def __exit__(self, *exc):
            intact = sys.getprofile() == self.profile
            self.active = False
            sys.setprofile(None)
            threading.setprofile(None)
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
