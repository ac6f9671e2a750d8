"""Regenerates twilio_api_v2010.trimmed.json from Twilio's full document (not run by the tests).

Usage: python3 trim.py path/to/twilio_api_v2010.json > twilio_api_v2010.trimmed.json
Keeps the paths numberd calls and every component they reference, transitively.
"""
import json
import sys

BASE = "/2010-04-01/Accounts/{AccountSid}/"
KEEP = [
    "AvailablePhoneNumbers/{CountryCode}/Local.json",
    "AvailablePhoneNumbers/{CountryCode}/TollFree.json",
    "AvailablePhoneNumbers/{CountryCode}/Mobile.json",
    "IncomingPhoneNumbers.json",
    "IncomingPhoneNumbers/{Sid}.json",
    "OutgoingCallerIds.json",
    "OutgoingCallerIds/{Sid}.json",
]

doc = json.load(open(sys.argv[1]))
paths = {BASE + p: doc["paths"][BASE + p] for p in KEEP}


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


seen, todo = set(), list(refs(paths))
while todo:
    ref = todo.pop()
    if ref in seen:
        continue
    seen.add(ref)
    _, _, section, name = ref.split("/")
    todo.extend(refs(doc["components"][section][name]))

components = {"securitySchemes": doc["components"]["securitySchemes"]}
for ref in sorted(seen):
    _, _, section, name = ref.split("/")
    components.setdefault(section, {})[name] = doc["components"][section][name]
out = {k: doc[k] for k in ("openapi", "info", "servers", "security") if k in doc}
out["paths"] = paths
out["components"] = components
json.dump(out, sys.stdout, indent=1, sort_keys=False)
print()
