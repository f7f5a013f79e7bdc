# -*- coding: utf-8 -*-
# Copyright: sre.incident contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""sre.incident.s3_heapdump_info - List the heap dumps in an S3 bucket, newest first, with size and age.

Its logic (SPEC and run(module)); plugins/modules/s3_heapdump_info.py holds the documentation and main()."""

from __future__ import annotations

import datetime

from ansible_collections.sre.incident.plugins.module_utils.aws import aws_argument_spec, client, fail, is_not_found
from ansible_collections.sre.incident.plugins.module_utils.common import module_duration
from ansible_collections.sre.incident.plugins.module_utils.validate import S3_BUCKET, Seconds, Text, Whole

BACKEND = "S3"
MAX_KEYS = 10000

SPEC = dict(
    argument_spec=aws_argument_spec(
        bucket=dict(type="str", required=True),
        prefix=dict(type="str", default=""),
        limit=dict(type="int", default=20),
        recent=dict(type="raw", default="1h"),
    ),
    supports_check_mode=True,
    limits=dict(bucket=S3_BUCKET, prefix=Text(None, "text of at most 1024 characters", empty_ok=True), limit=Whole(1, 1000), recent=Seconds(30 * 86400)),
)


def human(size):
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return "%s %s" % (round(size, 1) if unit != "B" else size, unit)
        size /= 1024.0
    return str(size)


def run(module):
    """Run the module: read module.params, end with module.exit_json() or module.fail_json()."""
    params = module.params
    recent = module_duration(module, "recent")
    api = client(module, "s3")
    objects, token = [], None
    try:
        while len(objects) < MAX_KEYS:
            request = dict(Bucket=params["bucket"], Prefix=params["prefix"], MaxKeys=1000)
            if token:
                request["ContinuationToken"] = token
            page = api.list_objects_v2(**request)
            objects.extend(page.get("Contents", []))
            token = page.get("NextContinuationToken")
            if not page.get("IsTruncated") or not token:
                break
    except Exception as exc:  # noqa: BLE001
        if is_not_found(exc, "NoSuchBucket"):
            module.fail_json(msg="%s: bucket %s not found - check bucket and region" % (BACKEND, params["bucket"]))
        fail(module, exc, BACKEND, "list_objects_v2")
    now = datetime.datetime.now(datetime.timezone.utc)
    objects.sort(key=lambda item: item["LastModified"], reverse=True)
    dumps = [{
        "key": item["Key"], "size": item.get("Size", 0), "size_human": human(item.get("Size", 0)),
        "last_modified": item["LastModified"].isoformat(),
        "age_seconds": round((now - item["LastModified"]).total_seconds(), 1),
        "url": "s3://%s/%s" % (params["bucket"], item["Key"]),
    } for item in objects]
    module.exit_json(changed=False, dumps=dumps[:params["limit"]], count=len(dumps),
                     recent_count=sum(1 for dump in dumps if dump["age_seconds"] <= recent))
