#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slack_channel
short_description: Ensure a Slack channel exists, optionally with a topic
version_added: 0.1.0
description:
  - The runbook's "create the incident channel" step. Looks the channel up by name (Slack Web API
    C(conversations.list), every page, archived channels left out), creates it with C(conversations.create) when
    it is missing, and sets its topic with C(conversations.setTopic) when O(topic) is given and differs.
  - Idempotent - nothing is sent when the channel exists with that topic and the bot is a member
    (RV(ignore:changed=false)).
  - An existing channel is never renamed, archived or switched between public and private.
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.slack
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  name:
    description:
      - Channel name, with or without a leading C(#), for example C(inc-2024-06-01-redis).
      - Slack's rules apply - lowercase letters, digits, C(-) and C(_), at most 80 characters. Anything else is
        an error before any call is made.
    type: str
    required: true
  topic:
    description:
      - Topic the channel should have (at most 250 characters). Left alone when not given.
    type: str
  private:
    description:
      - Create the channel as a private channel. Only used when the channel is created.
    type: bool
    default: false
  join:
    description:
      - When the public channel exists and the bot is not a member, join it (C(conversations.join)), so that
        M(sre.incident.slack_message) can post there. A bot cannot join a private channel by itself - invite it.
    type: bool
    default: true
attributes:
  check_mode:
    support: full
    description:
      - Looks the channel up for real (C(conversations.list) only reads), then returns in RV(requests) the calls
        it would make, without making them.
  diff_mode:
    support: full
    description: Before/after of the channel's existence and topic.
notes:
  - The bot needs the C(channels:read) and C(channels:manage) scopes (C(groups:read) and C(groups:write) for
    private channels), and C(channels:join) to join an existing channel.
"""

EXAMPLES = r"""
- name: Open the incident channel
  sre.incident.slack_channel:
    name: "inc-{{ incident_id }}"
    topic: "SEV-2 Redis cache down - IC @jane - status: investigating"
    api_url: "{{ slack_api_url }}"
    token: "{{ vault_slack_bot_token }}"
  register: incident_channel

- name: Same, with the token from SLACK_BOT_TOKEN
  sre.incident.slack_channel:
    name: incidents
"""

RETURN = r"""
channel:
  description:
    - The channel - id, name, created (epoch seconds), is_private, topic.
    - In check mode, for a channel that would be created, id and created are null.
  returned: always
  type: dict
  sample: {"id": "C0123ABCDEF", "name": "inc-2024-06-01-redis", "created": 1717200000, "is_private": false,
           "topic": "SEV-2 Redis cache down"}
created:
  description: Whether the channel was (in check mode - would be) created.
  returned: always
  type: bool
requests:
  description:
    - The write calls sent (in check mode - that would be sent), each with method and body; empty when nothing
      had to change. In check mode a setTopic for a channel still to be created names the channel by name.
  returned: always
  type: list
  elements: dict
  sample: [{"method": "conversations.create", "body": {"name": "inc-2024-06-01-redis", "is_private": false}}]
"""

import html

from ansible_collections.sre.incident.plugins.module_utils.slack import (
    Slack,
    channel_name,
    channel_summary,
    slack_argument_spec,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import StrictModule

TOPIC_MAX = 250


def main():
    module = StrictModule(
        argument_spec=slack_argument_spec(
            name=dict(type="str", required=True),
            topic=dict(type="str"),
            private=dict(type="bool", default=False),
            join=dict(type="bool", default=True),
        ),
        supports_check_mode=True,
    )
    params = module.params
    name = channel_name(module, params["name"])
    topic = params["topic"]
    if topic is not None and len(topic) > TOPIC_MAX:
        module.fail_json(msg="option topic: %d characters; Slack allows at most %d" % (len(topic), TOPIC_MAX))
    slack = Slack(module)

    found = slack.find_channel(name, private=True)
    requests = []
    before = channel_summary(found) if found else None
    if found:
        channel = channel_summary(found)
        if params["private"] and not channel["is_private"]:
            module.warn("Slack channel #%s exists as a public channel; private=true is only used when creating it"
                        % name)
        if params["join"] and found.get("is_member") is False:
            if channel["is_private"]:
                module.warn("the bot is not a member of the private channel #%s; invite it to post there" % name)
            else:
                requests.append({"method": "conversations.join", "body": {"channel": channel["id"]}})
                if not module.check_mode:
                    slack.call("conversations.join", channel=channel["id"])
    else:
        create = {"name": name, "is_private": params["private"]}
        requests.append({"method": "conversations.create", "body": create})
        if module.check_mode:
            channel = {"id": None, "name": name, "created": None, "is_private": params["private"], "topic": ""}
        else:
            data = slack.call("conversations.create", name=name, is_private="true" if params["private"] else "false")
            channel = channel_summary(data.get("channel") or {})

    if topic is not None and html.unescape(channel["topic"] or "") != topic:
        set_topic = {"channel": channel["id"] or "#" + name, "topic": topic}
        requests.append({"method": "conversations.setTopic", "body": set_topic})
        if not module.check_mode:
            data = slack.call("conversations.setTopic", **set_topic)
            answered = (data.get("channel") or {}).get("topic")
            channel["topic"] = (answered.get("value") if isinstance(answered, dict) else answered) or topic
        else:
            channel["topic"] = topic

    result = dict(changed=bool(requests), channel=channel, created=found is None, requests=requests)
    if module._diff:
        result["diff"] = {
            "before": {"exists": before is not None, "topic": before["topic"] if before else None},
            "after": {"exists": True, "topic": channel["topic"]},
        }
    module.exit_json(**result)


if __name__ == "__main__":
    main()
