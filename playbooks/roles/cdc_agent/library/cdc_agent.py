#!/usr/bin/python3
# roles/cdc_agent/library/cdc_agent.py: Ansible module around
# `cdc-agent plan --json` and `cdc-agent bootstrap --json`.
# Standard library and ansible-core only (the host needs nothing else).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cdc_agent
short_description: Make a host match its cdc-agent topology (bootstrap; plan in check mode)
description:
  - >-
    Runs C(cdc-agent -c CONFIG bootstrap --json) and reports what it changed
    (PostgreSQL settings, pg_hba.conf, roles, publication, target database
    and grants; Kafka installed; ZooKeeper, Kafka, capture and apply units
    running and checked healthy).  C(changed) is the agent's own C(changed)
    field: a second run reports C(changed=false) and changes nothing.
  - >-
    In check mode runs C(cdc-agent -c CONFIG plan --json) instead, which
    changes nothing; C(changed) is true when plan exits 2 (bootstrap would
    change something), with the planned changes in C(changes).
  - >-
    In check mode, when I(topology) is given and differs from the file at
    I(config) (the template task that writes it did not run, being in check
    mode), plan reads I(topology) in place of that file: it is bind-mounted
    over I(config) in a private mount namespace (C(unshare --mount), root
    only), so the agent sees the path it will really have and the host's
    file stays as it is.  Without C(unshare) it plans against a temporary
    copy and warns that unit files naming the topology's path then show as
    changes.  When I(config) does not exist yet (first run in check mode),
    the result is changed with nothing planned.  Password files are not
    substituted: plan reads the installed ones, so a new password shows as
    the change of the task writing its file, not in the plan.
  - >-
    With C(--diff) the changes are shown as a diff, one line per change
    (component and action, as the agent prints them).
  - >-
    With I(supervisor) (the long-running agent's unit, C(cdc-agent.service))
    active, bootstrap does not race its reconcile passes, which act on the
    topology the running agent loaded: plan runs first; when it reports
    nothing to change, so does the module (the supervisor is left alone);
    otherwise the supervisor is stopped (it finishes its pass first),
    bootstrap runs alone, and the supervisor is started again whatever the
    outcome (it then reads the new topology; C(systemctl start) returns
    after its READY=1).
  - >-
    Failures report the agent's error lines (stderr).  Exit code 4 (a
    PostgreSQL restart is required and the agent could not do it) is a
    failure whose message names the service to restart.
version_added: "0.1.0"
author: cdc-agent
options:
  config:
    description: >-
      The topology file (INI) on the host.
    type: path
    default: /etc/cdc-agent/cdc-agent.ini
  binary:
    description: >-
      The cdc-agent executable on the host.
    type: path
    default: /usr/local/bin/cdc-agent
  supervisor:
    description: >-
      The unit of the long-running agent (C(cdc-agent -c CONFIG run)) on this
      host, e.g. C(cdc-agent.service).  When it is active, bootstrap runs only
      if plan finds something to change, with the supervisor stopped for that
      time.  Not used in check mode.
    type: str
    required: false
  topology:
    description:
      - >-
        In check mode only, the text I(config) will hold once the play runs
        for real (e.g. a C(lookup('template', ...)) of the same template).
        Ignored outside check mode.  Must hold no secret (topologies never do:
        passwords live in password files).
    type: str
    required: false
notes:
  - >-
    Runs as root (become), like the agent itself.
  - >-
    Agent exit codes; 0 done (plan, nothing to change), 1 a server, file or
    command failed, 2 plan, changes pending, 3 the topology is invalid,
    4 a PostgreSQL restart is required and the agent could not do it,
    64 bad command line.
"""

EXAMPLES = r"""
- name: cdc-agent bootstrap (plan in check mode)
  cdc_agent:
    config: /etc/cdc-agent/cdc-agent.ini
    topology: "{{ lookup('template', 'cdc-agent.ini.j2') if ansible_check_mode else omit }}"
"""

RETURN = r"""
changes:
  description: >-
    What bootstrap changed (or, in check mode, what it would change), in
    order, as the agent reports it.
  returned: always
  type: list
  elements: dict
  contains:
    component:
      description: What the change is about, e.g. C(source db1), C(target db2), C(host), C(kafka).
      type: str
    action:
      description: The change, e.g. C(add table public.t to publication my_publication).
      type: str
  sample: [{"component": "source db1", "action": "set wal_level = logical (configured: replica)"}]
mode:
  description: C(bootstrap), or C(plan) in check mode.
  returned: always
  type: str
exit_code:
  description: >-
    The agent's exit code (not named rc: Ansible takes a non-zero rc for a
    failure, and plan's 2 is not one).
  returned: when the agent ran
  type: int
restart_needed:
  description: The agent's C(restart_needed) field (true makes the module fail).
  returned: when the agent printed its report
  type: bool
cmd:
  description: The agent's command line.
  returned: when the agent ran
  type: list
  elements: str
stderr_lines:
  description: The agent's log lines (errors name FILE:LINE, server, table or unit).
  returned: when the agent ran
  type: list
  elements: str
supervisor_restarted:
  description: >-
    True when the supervisor was stopped around bootstrap and started again
    (it has read the topology anew).
  returned: when I(supervisor) is given, outside check mode
  type: bool
planned_against:
  description: >-
    In check mode, which topology plan read: C(config) (the installed file),
    C(topology) (the would-be text, mounted over the installed path),
    C(temporary copy) (without unshare), or C(none) (no topology installed yet).
  returned: in check mode
  type: str
"""

import json
import os
import re
import shutil
import tempfile

from ansible.module_utils.basic import AnsibleModule

EXIT_MEANING = {
    1: "a server, file or command failed",
    2: "changes pending",
    3: "the topology is invalid",
    4: "PostgreSQL must be restarted and the agent could not do it",
    64: "bad command line",
}

# Runs the agent with the temporary file mounted over the topology's path,
# in a mount namespace of its own (the host's mounts are not touched).
MOUNT_SCRIPT = 'mount --bind "$1" "$2" && shift 2 && exec "$@"'


def diff_text(config, mode, changes):
    """The --diff view: one + line per change."""
    verb = "bootstrap" if mode == "bootstrap" else "plan"
    head = "cdc-agent %s (%s): %d change%s\n" % (
        verb, config, len(changes), "" if len(changes) == 1 else "s")
    return head + "".join("+ %s: %s\n" % (c.get("component", "?"), c.get("action", "?"))
                          for c in changes)


def run_agent(module, binary, config, verb, mount_source=None):
    cmd = [binary, "-c", config, verb, "--json"]
    if mount_source:
        cmd = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
               MOUNT_SCRIPT, "sh", mount_source, config] + cmd
    rc, out, err = module.run_command(cmd)
    report = None
    if out.strip():
        try:
            report = json.loads(out)
        except ValueError:
            report = None
    return cmd, rc, out, err, report


def systemctl(module, *args):
    return module.run_command([module.get_bin_path("systemctl", required=True)] + list(args))


def supervisor_active(module, unit):
    if not unit:
        return False
    rc, out, _ = systemctl(module, "is-active", unit)
    return out.strip() in ("active", "activating", "reloading")


def bootstrap_paused(module, binary, config, unit):
    """bootstrap with the long-running agent stopped, only if plan finds work.

    Returns run_agent's tuple plus whether the supervisor was restarted."""
    cmd, rc, out, err, report = run_agent(module, binary, config, "plan")
    if rc == 0 and report is not None:
        # Nothing to change: report it as bootstrap would.
        report["mode"] = "bootstrap"
        report["changed"] = False
        return cmd, rc, out, err, report, False
    if rc != 2:
        return cmd, rc, out, err, report, False  # plan failed: its errors say why
    rc_stop, _, err_stop = systemctl(module, "stop", unit)
    if rc_stop != 0:
        module.fail_json(msg="cannot stop %s before bootstrap: %s" % (unit, err_stop.strip()),
                         changed=False, changes=[], mode="bootstrap")
    try:
        cmd, rc, out, err, report = run_agent(module, binary, config, "bootstrap")
    finally:
        rc_start, _, err_start = systemctl(module, "start", unit)
    if rc_start != 0:
        err = err + "cdc-agent: error: %s did not start again after bootstrap: %s\n" % (
            unit, err_start.strip())
        if rc == 0:
            rc = 1
    return cmd, rc, out, err, report, True


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path", default="/etc/cdc-agent/cdc-agent.ini"),
            binary=dict(type="path", default="/usr/local/bin/cdc-agent"),
            topology=dict(type="str", required=False),
            supervisor=dict(type="str", required=False),
        ),
        supports_check_mode=True,
    )
    config = module.params["config"]
    binary = module.params["binary"]
    topology = module.params["topology"]
    check = module.check_mode
    mode = "plan" if check else "bootstrap"
    result = dict(changed=False, changes=[], mode=mode)
    warnings = []

    supervisor = module.params["supervisor"]
    if supervisor and not check:
        result["supervisor_restarted"] = False

    if not os.access(binary, os.X_OK):
        if check:
            # First run in check mode: the install task did not run either.
            result.update(changed=True, planned_against="none",
                          msg="%s is not installed yet: bootstrap would do everything" % binary)
            module.exit_json(**result)
        module.fail_json(msg="%s is not an executable cdc-agent" % binary, **result)

    tmp_dir = None
    mount_source = None
    plan_config = config
    try:
        if check:
            result["planned_against"] = "config"
            installed = None
            if os.path.exists(config):
                with open(config, "r") as f:
                    installed = f.read()
            if installed is None:
                result.update(changed=True, planned_against="none",
                              msg="%s is not written yet: bootstrap would do everything" % config)
                if module._diff and topology is not None:
                    result["diff"] = dict(prepared="cdc-agent plan (%s): topology to be written\n"
                                          % config)
                module.exit_json(**result)
            if topology is not None and topology != installed:
                tmp_dir = tempfile.mkdtemp(prefix="cdc-agent-plan.")
                mount_source = os.path.join(tmp_dir, os.path.basename(config))
                with open(mount_source, "w") as f:
                    f.write(topology)
                os.chmod(mount_source, 0o644)
                if module.get_bin_path("unshare") and os.geteuid() == 0:
                    result["planned_against"] = "topology"
                else:
                    result["planned_against"] = "temporary copy"
                    warnings.append("no unshare (or not root): planned against a copy of the "
                                    "topology at %s; unit files naming the topology's path show "
                                    "as changes" % mount_source)
                    plan_config, mount_source = mount_source, None
        if check or not supervisor_active(module, supervisor):
            cmd, rc, out, err, report = run_agent(module, binary, plan_config, mode, mount_source)
        else:
            cmd, rc, out, err, report, restarted = bootstrap_paused(module, binary, config,
                                                                   supervisor)
            result["supervisor_restarted"] = restarted
    finally:
        if tmp_dir:
            shutil.rmtree(tmp_dir, ignore_errors=True)

    result.update(cmd=cmd, exit_code=rc, stderr_lines=err.splitlines())
    if report is not None:
        result["changes"] = report.get("changes", [])
        result["restart_needed"] = bool(report.get("restart_needed", False))
    if warnings:
        result["warnings"] = warnings

    if check:
        result["changed"] = rc == 2
    else:
        result["changed"] = bool(report and report.get("changed"))
    if result["changes"] and module._diff:
        result["diff"] = dict(prepared=diff_text(config, mode, result["changes"]))

    ok_codes = (0, 2) if check else (0,)
    if rc in ok_codes and report is not None:
        module.exit_json(**result)

    # Errors and warnings, with what follows them (a unit's journal lines).
    # (lines are stamped with the time when stderr is not the journal)
    lines = [line.strip() for line in err.splitlines()
             if line.strip() and not re.match(r"(\S+Z )?cdc-agent: (info|debug):", line)]
    detail = "; ".join(lines[:40]) if lines else (out.strip() or "no output")
    if rc == 4:
        msg = ("cdc-agent %s: PostgreSQL must be restarted and the agent could not do it "
               "(no systemd bus, or no unit known for the server); the agent says: %s"
               % (mode, detail))
    elif rc in EXIT_MEANING:
        msg = "cdc-agent %s failed (exit %d: %s): %s" % (mode, rc, EXIT_MEANING[rc], detail)
    else:
        msg = "cdc-agent %s failed (exit %d): %s" % (mode, rc, detail)
    module.fail_json(msg=msg, **result)


if __name__ == "__main__":
    main()
