"""Extra links: buttons on a task that open what it works on in Adobe's own UI."""
