#!/usr/bin/python3
# roles/cdc_agent/library/cdc_agent_cluster.py: Ansible module that waits
# until the Kafka cluster of a cdc-agent topology is whole again (every
# broker up, no partition under-replicated or offline), so that a rolling
# play touches the next node only then.
# Standard library and ansible-core only (the host needs nothing else).

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: cdc_agent_cluster
short_description: Wait until a cdc-agent Kafka cluster has every broker up and no under-replicated partition
description:
  - >-
    Reads C(cdc-agent -c CONFIG status --json) every I(interval) seconds
    until its C(cluster) field says every broker the topology names is up
    (C(brokers_up) = C(brokers_expected)) and no partition of the pipelines'
    topics is under-replicated or offline; fails after I(timeout) seconds
    with the last state.  Never changes anything (C(changed) is false).
  - >-
    An agent whose status has no C(cluster) field is asked through Kafka's
    own C(TopicCommand) instead (C(--describe --under-replicated-partitions)
    and C(--unavailable-partitions) against I(bootstrap_server), with the
    jars of I(kafka_dir)), which covers every topic.
  - In check mode it returns at once: a play that changes nothing has nothing to wait for.
version_added: "0.2.0"
author: cdc-agent
options:
  config:
    description: The topology file (INI) on the host.
    type: path
    default: /etc/cdc-agent/cdc-agent.ini
  binary:
    description: The cdc-agent executable on the host.
    type: path
    default: /usr/local/bin/cdc-agent
  timeout:
    description: Seconds to wait at most.
    type: int
    default: 300
  interval:
    description: Seconds between two looks.
    type: int
    default: 5
  bootstrap_server:
    description: >-
      HOST:PORT of a broker, for the fallback through Kafka's TopicCommand.
    type: str
    required: false
  kafka_dir:
    description: The Kafka installation (its C(libs/)), for the fallback.
    type: path
    default: /opt/kafka
"""

EXAMPLES = r"""
- name: Wait until no partition is under-replicated
  cdc_agent_cluster:
    config: /etc/cdc-agent/cdc-agent.ini
    timeout: 300
"""

RETURN = r"""
cluster:
  description: >-
    The last C(cluster) field of the agent's status (brokers_expected,
    brokers_up, controller_id, under_replicated_partitions,
    offline_partitions, brokers), or, from the fallback, the
    under-replicated and offline partitions Kafka listed.
  returned: always
  type: dict
source:
  description: C(status) (the agent's status) or C(TopicCommand) (the fallback).
  returned: unless in check mode
  type: str
waited:
  description: Seconds waited.
  returned: always
  type: float
"""

import json
import os
import time

from ansible.module_utils.basic import AnsibleModule


def from_status(module, binary, config):
    """(healthy, cluster dict) from the agent's status, or None without a cluster field."""
    rc, out, err = module.run_command([binary, "-c", config, "status", "--json"])
    # status exits 1 while something is not RUNNING: its document still says why.
    try:
        doc = json.loads(out)
    except ValueError:
        return False, {"error": "status --json (exit %d) printed no JSON: %s"
                                % (rc, (err.strip() or out.strip())[:500])}
    cluster = doc.get("cluster") if isinstance(doc, dict) else None
    if not isinstance(cluster, dict):
        return None
    healthy = (cluster.get("brokers_expected") is not None
               and cluster.get("brokers_up") == cluster.get("brokers_expected")
               and cluster.get("under_replicated_partitions") == 0
               and cluster.get("offline_partitions") == 0)
    return healthy, cluster


def from_topic_command(module, kafka_dir, server):
    java = module.get_bin_path("java")
    if not java or not server:
        module.fail_json(msg="the agent's status has no cluster field, and the fallback needs "
                             "java and bootstrap_server", changed=False)
    base = [java, "-Xmx128m", "-cp", os.path.join(kafka_dir, "libs", "*"),
            "org.apache.kafka.tools.TopicCommand", "--bootstrap-server", server, "--describe"]
    found = {}
    for flag, key in (("--under-replicated-partitions", "under_replicated"),
                      ("--unavailable-partitions", "offline")):
        rc, out, err = module.run_command(base + [flag])
        if rc != 0:
            return False, {"error": "TopicCommand %s (exit %d): %s" % (flag, rc, err.strip()[:500])}
        found[key] = [line.strip() for line in out.splitlines() if "Partition:" in line]
    return not found["under_replicated"] and not found["offline"], found


def main():
    module = AnsibleModule(
        argument_spec=dict(
            config=dict(type="path", default="/etc/cdc-agent/cdc-agent.ini"),
            binary=dict(type="path", default="/usr/local/bin/cdc-agent"),
            timeout=dict(type="int", default=300),
            interval=dict(type="int", default=5),
            bootstrap_server=dict(type="str", required=False),
            kafka_dir=dict(type="path", default="/opt/kafka"),
        ),
        supports_check_mode=True,
    )
    p = module.params
    if module.check_mode:
        module.exit_json(changed=False, cluster={}, waited=0.0)
    t0 = time.time()
    deadline = t0 + max(p["timeout"], 0)
    source = "status"
    while True:
        got = from_status(module, p["binary"], p["config"])
        if got is None:
            source = "TopicCommand"
            got = from_topic_command(module, p["kafka_dir"], p["bootstrap_server"])
        healthy, cluster = got
        waited = round(time.time() - t0, 1)
        if healthy:
            module.exit_json(changed=False, cluster=cluster, source=source, waited=waited)
        if time.time() >= deadline:
            module.fail_json(msg="the Kafka cluster is not whole after %d s (brokers down, or "
                                 "partitions under-replicated or offline): %s"
                                 % (p["timeout"], json.dumps(cluster, sort_keys=True)),
                             changed=False, cluster=cluster, source=source, waited=waited)
        time.sleep(max(p["interval"], 1))


if __name__ == "__main__":
    main()
