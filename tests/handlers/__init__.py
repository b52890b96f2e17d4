"""Lambda handlers as test fixtures: a recording one, the original workshop one, a poisoned one."""
