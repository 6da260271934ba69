"""Running untrusted notebooks: the sandbox, the kernel, the cells, and calls of the graded functions.

Nothing outside this package starts a kernel or reads what a kernel wrote;
what leaves it is plain data (`harvest.CallOutcome`, `execute.RunLog`),
size-checked and read without pickles.
"""
