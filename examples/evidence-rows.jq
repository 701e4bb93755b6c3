# Every row of a format-2 evidence JSON as a dict with format 1's keys (references followed):
#   jq -f examples/evidence-rows.jq evidence.json
. as $d | [.results as $t | $t.rows[] | [$t.columns, .] | transpose | map({(.[0]): .[1]}) | add
  | $d.checks[.check] as $c | $d.targets[.target] as $g | $d.requirements[$c.requirement] as $q
  | {test: ($c.test + if $g.param == null then "" else "[\($g.param)]" end),
     requirement: $c.requirement, domain: $g.domain, host: $g.host, ip: $g.ip, port: $g.port,
     verdict, message: $d.messages[.message], profile: $g.profile,
     severity: (.severity // $q.severity[$g.profile]), citation: (.citation // $q.citation),
     waived, waiver: (if .waiver == null then null else $d.waivers[.waiver] end),
     evidence: $d.evidence[.evidence]}]
