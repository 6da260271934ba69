# ruff: noqa: B036
"""Code the grader runs *inside the student's kernel* after the notebook: call graded functions.

This file is never imported by the grader: `harvest.py` sends its text to the
kernel as one cell. It only calls the student's functions on the inputs it is
given (alone, or composed by the handout's own training loop, which the
template hands the students: the assignment's `_grader_handout_loop`, sent
beside this file) and writes back plain numbers (`.npz` without pickles, `.json`). It holds
no expected value and makes no judgement: everything it writes is judged in the
grader's own process, so a student who patches what this code uses can at most
spoil their own numbers. The students' self-check runs the same code on its
public cases (`_grader_call_all`, stamped into it).
"""


def _grader_probe(user_ns, calls_file, arrays_file, out_stem, call_timeout, max_elements):
    """The grader's entry: the calls and their arrays from files, the results written to `out_stem`.json/.npz."""
    import json

    import numpy as np

    # what writes the results, taken before any graded function runs and could replace it
    dump_json, save_arrays = json.dump, np.savez
    with open(calls_file) as f:
        calls = json.load(f)
    with np.load(arrays_file, allow_pickle=False) as f:
        arrays = {name: f[name] for name in f.files}
    meta, results = {}, {}
    # each call's key as it starts, and "done" once none runs: the grader stops a kernel whose call outlives its
    # alarm (a student can turn the alarm off) by this, not by the whole cell's budget
    progress = open(out_stem + ".progress", "w", buffering=1)
    mark = progress.write
    try:
        _grader_call_all(user_ns, calls, arrays, call_timeout, max_elements, meta, results, progress=mark)  # noqa: F821
    finally:
        try:
            mark("done\n")
            progress.close()
        except Exception:  # closed by a graded function: the grader falls back on the cell's budget
            pass
        save_arrays(out_stem + ".npz", **results)
        with open(out_stem + ".json", "w") as f:
            dump_json(meta, f)


def _grader_call_all(
    user_ns, calls, arrays, call_timeout, max_elements, meta, results, watch_required=True, progress=None
):
    """Call each graded function of `calls` on `arrays`; each call's record into `meta`, its arrays into
    `results` (filled as the calls go, so that what is there survives anything). `call_timeout`: seconds,
    or None for no bound (where SIGALRM is missing). `watch_required`: a recording without the watch
    installed at the kernel's start is a breach (the grader's kernels always have it). `progress`: told each
    call's key (a line) as the call starts."""
    import os
    import random
    import signal
    import sys
    import threading

    import numpy as np
    import torch

    # the assignment's loop over the notebook's own functions, where it has one (taken before any student code
    # runs, as below)
    handout_loop = globals().get("_grader_handout_loop")

    class CallTimeout(BaseException):
        pass

    def on_alarm(signum, frame):
        raise CallTimeout()

    # torch.manual_seed also queues a seed for every accelerator torch was built for, each queued with a traceback
    # of the whole stack (three a call, 20 ms of a kernel's calls); where none is present it seeds only the CPU's
    # (a torch older than torch.accelerator, a student's own in the self-check, seeds as it always did)
    cpu_only = hasattr(torch, "accelerator") and not torch.accelerator.is_available()
    seed_torch = torch.default_generator.manual_seed if cpu_only else torch.manual_seed

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

    # the rubric's `watch`: what runs while a graded function is called (run/recording.py, sent with this code),
    # heard also in the threads and processes the notebook started, through the watch installed at its start
    watcher = getattr(sys.modules.get("_grader_watch"), "watch", None)
    Recording = _grader_recording(torch, sys, threading, os, watcher)  # noqa: F821

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

    def timer(seconds):
        if timed:
            signal.setitimer(signal.ITIMER_REAL, seconds)

    timed = call_timeout is not None and hasattr(signal, "setitimer")
    timed = timed and threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGALRM, on_alarm) if timed else None
    try:
        for call in calls:
            key = call["key"]
            record = meta[key] = {"status": "ok"}
            if call.get("handout_loop"):
                # the assignment's loop (it raises where a function it composes is missing); none: not run
                def function(*args, **kwargs):
                    return handout_loop(user_ns, *args, **kwargs)

                function = function if handout_loop is not None else None
            else:
                function = user_ns.get(call["function"])
            if function is None:
                record["status"] = "missing"
                continue
            if not callable(function):
                record["status"] = "not_callable"
                continue
            args = [build(a) for a in call["args"]]
            kwargs = {k: build(v) for k, v in call["kwargs"].items()}
            seed_torch(call["seed"])
            np.random.seed(call["seed"] % 2**32)
            random.seed(call["seed"])
            recording = Recording(call.get("watch", ()))
            captured = {}
            restore = capturing(call.get("capture", ()), captured)
            if progress is not None:
                try:
                    progress(key + "\n")
                except Exception:  # a closed file: the grader falls back on the cell's budget
                    pass
            timer(call_timeout)
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
                timer(0)
                restore()
                if recording.watch:
                    record |= recording.facts()
                    if watch_required and watcher is None and record["recording"] == "intact":
                        record["recording"] = "the grader's watch over threads and processes was removed"
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
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
