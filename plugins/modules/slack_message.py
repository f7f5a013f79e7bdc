#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: slack_message
short_description: Post a message to a Slack channel, optionally in a thread and mentioning people
version_added: 0.1.0
description:
  - "The runbook's status updates (post in C(#incidents), update the incident channel every 30 minutes) as one
    Slack Web API C(chat.postMessage) call."
  - A channel given by name is resolved to its id with C(conversations.list) first.
  - Not idempotent by nature - every run posts a message and reports RV(ignore:changed=true).
author:
  - sre.incident maintainers (@sre-incident)
extends_documentation_fragment:
  - sre.incident.slack
  - sre.incident.strict_inputs
  - sre.incident.deadline
options:
  channel:
    description:
      - Channel id (C(C0123ABCDEF)) or name, with or without C(#) (C(#incidents)).
    type: str
    required: true
  text:
    description:
      - Message text (Slack C(mrkdwn)). Also the notification text when O(blocks) are given.
    type: str
    required: true
  blocks:
    description:
      - Block Kit blocks for a richer layout, for example a header and fields.
    type: list
    elements: dict
  thread_ts:
    description:
      - Timestamp (RV(ts)) of the message to reply to; the message is posted in its thread.
    type: str
  mention:
    description:
      - People or groups to mention, put in front of O(text) in the order given.
      - A user id (C(U0123ABCD)) becomes C(<@U0123ABCD>), a user group id (C(S0123ABCD)) C(<!subteam^S0123ABCD>),
        C(@here), C(@channel) and C(@everyone) become Slack's special mentions; any other handle
        (C(@eng-manager)) is written as it is, with a leading C(@) added when missing.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
    description:
      - Sends nothing (not even the channel lookup - the channel may be created by an earlier check-mode task)
        and returns in RV(request) the message it would post; a channel given by name stays a name there.
  diff_mode:
    support: none
    description: A message has no before.
notes:
  - The bot needs the C(chat:write) scope, and C(channels:read) (C(groups:read) for private channels) to resolve
    a channel name. It must be a member of the channel.
"""

EXAMPLES = r"""
- name: Post the initial incident notice
  sre.incident.slack_message:
    channel: "#incidents"
    text: "SEV-2: Redis cache down on sample-service. Investigating. Channel: #inc-{{ incident_id }}"
    mention: ["@here", "@eng-manager"]
    api_url: "{{ slack_api_url }}"
    token: "{{ vault_slack_bot_token }}"
  register: notice

- name: Status update in the notice's thread
  sre.incident.slack_message:
    channel: "{{ notice.channel }}"
    thread_ts: "{{ notice.ts }}"
    text: "Failover to the replica done; hit rate back to 92 %."

- name: With blocks
  sre.incident.slack_message:
    channel: inc-2024-06-01-redis
    text: "SEV-2 Redis cache down"
    blocks:
      - type: header
        text: {type: plain_text, text: "SEV-2 Redis cache down"}
      - type: section
        fields:
          - {type: mrkdwn, text: "*Service*\nsample-service"}
          - {type: mrkdwn, text: "*Status*\ninvestigating"}
"""

RETURN = r"""
ts:
  description: Timestamp of the posted message (its id within the channel); null in check mode.
  returned: always
  type: str
  sample: "1717200000.000100"
channel:
  description: Id of the channel posted to; null in check mode when the channel was given by name.
  returned: always
  type: str
  sample: C0123ABCDEF
thread_ts:
  description: Timestamp of the thread's first message (O(thread_ts), or RV(ts) for a new message) - reply with it.
  returned: always
  type: str
request:
  description: The body of the C(chat.postMessage) call sent (in check mode - that would be sent) - channel, text
    (with the mentions), blocks and thread_ts when given.
  returned: always
  type: dict
  sample: {"channel": "C0123ABCDEF", "text": "<!here> @eng-manager SEV-2: Redis cache down"}
"""

import re

from ansible_collections.sre.incident.plugins.module_utils.slack import (
    CHANNEL_ID,
    Slack,
    channel_name,
    slack_argument_spec,
)
from ansible_collections.sre.incident.plugins.module_utils.validate import Each, Fields, StrictModule, Text

SPECIAL = {"here": "<!here>", "channel": "<!channel>", "everyone": "<!everyone>"}


def mention_text(handle):
    handle = handle.strip()
    bare = handle.lstrip("@")
    if bare in SPECIAL:
        return SPECIAL[bare]
    if re.match(r"^[UW][A-Z0-9]{6,}\Z", bare):
        return "<@%s>" % bare
    if re.match(r"^S[A-Z0-9]{6,}\Z", bare):
        return "<!subteam^%s>" % bare
    return "@" + bare


def main():
    module = StrictModule(
        argument_spec=slack_argument_spec(
            channel=dict(type="str", required=True),
            text=dict(type="str", required=True),
            blocks=dict(type="list", elements="dict"),
            thread_ts=dict(type="str"),
            mention=dict(type="list", elements="str", default=[]),
        ),
        supports_check_mode=True,
        limits=dict(blocks=Each(Fields(), max_items=50), thread_ts=Text(r"\d{1,12}\.\d{1,9}", "a Slack message ts such as 1700000000.000100", max_length=24)),
    )
    params = module.params
    if not params["text"].strip():
        module.fail_json(msg="option text: must not be empty")
    mentions = [mention_text(handle) for handle in params["mention"] if handle and handle.strip().lstrip("@")]
    text = " ".join(mentions + [params["text"]])

    given = params["channel"].strip()
    channel_id = given if CHANNEL_ID.match(given) else None
    name = None if channel_id else channel_name(module, given, "channel")
    slack = Slack(module)

    request = {"channel": channel_id or "#" + name, "text": text}
    if params["blocks"]:
        request["blocks"] = params["blocks"]
    if params["thread_ts"]:
        request["thread_ts"] = params["thread_ts"]
    if module.check_mode:
        module.exit_json(changed=True, ts=None, channel=channel_id, thread_ts=params["thread_ts"], request=request)

    if not channel_id:
        found = slack.find_channel(name, private=True)
        if not found:
            module.fail_json(msg="Slack conversations.list at %s: channel_not_found - no channel named #%s that the bot "
                                 "can see; create it (sre.incident.slack_channel) or invite the bot" % (slack.url, name))
        channel_id = found["id"]
        request["channel"] = channel_id
    data = slack.call("chat.postMessage", **request)
    ts = data.get("ts")
    module.exit_json(changed=True, ts=ts, channel=data.get("channel") or channel_id,
                     thread_ts=params["thread_ts"] or ts, request=request)


if __name__ == "__main__":
    main()
