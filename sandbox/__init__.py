"""The sandbox: the simulator (``pantau simulate``) and the one-command demo (``pantau demo``).

It sits above every other part (it registers devices and starts the API), so nothing
imports it; the kernel in particular never does.
"""
