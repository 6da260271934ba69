# ruff: noqa: B036
"""Code the grader runs *inside the student's kernel* after the notebook: call graded functions.

This file is never imported by the grader: `harvest.py` sends its text to the
kernel as one cell. It only calls the student's functions on the inputs it is
given and writes back plain numbers (`.npz` without pickles, `.json`). It holds
no expected value and makes no judgement: everything it writes is judged in the
grader's own process, so a student who patches what this code uses can at most
spoil their own numbers.
"""


def _messmaster_probe(user_ns, calls_file, arrays_file, out_stem, call_timeout, max_elements):
    import json
    import os
    import random
    import signal
    import sys
    import threading

    import numpy as np
    import torch
    from torch.overrides import TorchFunctionMode, resolve_name

    # what writes the results, taken before any graded function runs and could replace it
    dump_json, save_arrays = json.dump, np.savez

    class CallTimeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise CallTimeout()

    with open(calls_file) as f:
        calls = json.load(f)
    with np.load(arrays_file, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}

    def build(arg):
        if isinstance(arg, dict) and "array" in arg:
            return torch.tensor(arrays[arg["array"]])
        if isinstance(arg, dict) and "list" in arg:
            return [build(a) for a in arg["list"]]
        return arg["value"]

    def leaves_of(value, path, out, depth=0):
        """Flatten a return value into (path, object) leaves: tensors, arrays, numbers."""
        if isinstance(value, (list, tuple)):
            if value and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
                out.append((path, value, "list_of_numbers"))
            elif value and all(isinstance(v, torch.Tensor) and v.numel() == 1 for v in value) and len(value) > 16:
                out.append((path, [float(v) for v in value], "list_of_tensors"))
            elif depth < 3 and len(value) <= 16:
                for i, v in enumerate(value):
                    leaves_of(v, f"{path}.{i}" if path else str(i), out, depth + 1)
            else:
                out.append((path, None, f"{type(value).__name__} of {len(value)} items"))
        else:
            out.append((path, value, type(value).__name__))

    def to_array(value):
        """(array or None, facts about the value)."""
        facts = {}
        if isinstance(value, torch.Tensor):
            facts["kind"] = "tensor"
            facts["has_grad_fn"] = value.grad_fn is not None
            facts["subclass"] = type(value) is not torch.Tensor
            if facts["subclass"]:
                return None, facts
            value = value.detach().cpu().numpy()
        elif isinstance(value, np.ndarray):
            facts["kind"] = "ndarray"
        elif isinstance(value, (bool, int, float, np.generic, list)):
            facts["kind"] = type(value).__name__
        else:
            facts["kind"] = type(value).__name__
            return None, facts
        array = np.asarray(value)
        facts["shape"] = list(array.shape)
        if array.dtype.kind not in "biuf":
            return None, facts
        if array.size > max_elements:
            facts["too_large"] = True
            return None, facts
        return np.array(array, copy=True), facts

    # ---- recording the machinery a graded function runs (the rubric's `watch`) ----------------------------
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

    def capturing(names, captured):
        """Wrap the submission's functions `names` so that their first result is kept (copied: training
        updates the weights in place); returns a function that puts the originals back."""
        originals = {name: user_ns.get(name) for name in names if callable(user_ns.get(name))}

        def wrap(name, original):
            def recorder(*args, **kwargs):
                value = original(*args, **kwargs)
                if name not in captured:
                    items = value if isinstance(value, (list, tuple)) else [value]
                    captured[name] = [v.detach().clone() if isinstance(v, torch.Tensor) else v for v in items]
                return value

            return recorder

        for name, original in originals.items():
            user_ns[name] = wrap(name, original)
        return lambda: user_ns.update(originals)

    def flat_inputs(args):
        out = []
        for arg in args:
            if isinstance(arg, list):
                out.extend(arg)
            else:
                out.append(arg)
        return out

    meta = {}
    results = {}
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        for call in calls:
            key = call["key"]
            record = meta[key] = {"status": "ok"}
            function = user_ns.get(call["function"])
            if function is None:
                record["status"] = "missing"
                continue
            if not callable(function):
                record["status"] = "not_callable"
                continue
            args = [build(a) for a in call["args"]]
            kwargs = {k: build(v) for k, v in call["kwargs"].items()}
            torch.manual_seed(call["seed"])
            np.random.seed(call["seed"] % 2**32)
            random.seed(call["seed"])
            recording = Recording(call.get("watch", ()))
            captured = {}
            restore = capturing(call.get("capture", ()), captured)
            signal.setitimer(signal.ITIMER_REAL, call_timeout)
            try:
                if recording.watch:
                    with recording:
                        returned = function(*args, **kwargs)
                else:
                    returned = function(*args, **kwargs)
            except CallTimeout:
                record["status"] = "timeout"
                continue
            except BaseException as error:  # SystemExit and KeyboardInterrupt too: none may end the probe
                record["status"] = "error"
                record["error"] = f"{type(error).__name__}: {error}"[:500]
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
                restore()
                if recording.watch:
                    record |= recording.facts()
            found = []
            leaves_of(returned, "", found)
            for name, value in captured.items():
                leaves_of(list(value), f"captured.{name}", found)
            record["leaves"] = []
            for index, (path, value, kind) in enumerate(found):
                array, facts = (None, {"kind": kind}) if value is None else to_array(value)
                facts["path"] = path
                if array is not None:
                    results[f"{key}/out/{index}"] = array
                record["leaves"].append(facts)
            for index, value in enumerate(flat_inputs(args)):
                if isinstance(value, torch.Tensor) and type(value) is torch.Tensor:
                    results[f"{key}/after/{index}"] = value.detach().cpu().numpy().copy()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        save_arrays(out_stem + ".npz", **results)
        with open(out_stem + ".json", "w") as f:
            dump_json(meta, f)
