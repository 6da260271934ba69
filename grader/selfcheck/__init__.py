"""The students' self-check: its runner (stamped whole into each assignment's selfcheck.py, never imported by the
grader) and the bundle that builds it, its public cases and the students' zip."""
