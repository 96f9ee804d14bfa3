"""The pure domain of ehqa: episodes, their lifecycle, clocks, policies and calendar.

Nothing in this package reads the wall clock or touches I/O: "today" is always passed in.
"""
