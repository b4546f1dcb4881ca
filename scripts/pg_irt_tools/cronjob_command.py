"""Runs the calibrate container's command of a CronJob manifest as Kubernetes would: $(VAR)
references in the command are expanded from the container's env (literal values, plus those
taken from Secrets, which come from this process's environment), then the command is exec'd."""

import os
import re
import sys

import yaml


def main(path: str) -> None:
    with open(path) as f:
        cronjob = yaml.safe_load(f)
    pod = cronjob["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    container = next(c for c in pod["containers"] if c["name"] == "calibrate")
    env = dict(os.environ)
    for var in container.get("env", []):
        if "value" in var:
            env[var["name"]] = var["value"]
        elif var["name"] not in env:
            sys.exit(f"{var['name']} comes from a Secret: set it in the environment")
    expand = lambda arg: re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), arg)
    argv = [expand(a) for a in container["command"] + container.get("args", [])]
    os.execvpe(argv[0], argv, env)


if __name__ == "__main__":
    main(sys.argv[1])
