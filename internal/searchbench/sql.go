package searchbench

import (
	"fmt"
	"strings"
)

// The SQL below runs on ClickHouse 18.16 and current releases: no WITH
// FILL, no leftPad, no JSONExtract (visitParamExtractString reads the flat
// meta objects), arrays indexed from 1.

// commandTemplates are the command lines typed, as prefix and suffix of a
// number 0-999: 20 templates × 1000 numbers, so a search for one exact
// line (drop table tmp_42) matches about 1 command in 20,000.
var commandTemplates = [][2]string{
	{"ls -la /var/log/app-", ""},
	{"systemctl status worker-", ""},
	{"systemctl restart worker-", ""},
	{"tail -n 200 /var/log/app-", ".log"},
	{"grep -ri error /var/log/app-", ".log"},
	{`psql -c "SELECT count(*) FROM orders_`, `"`},
	{"kubectl get pods -n team-", ""},
	{"journalctl -u worker-", " --since today"},
	{"df -h /srv/data-", ""},
	{"cat /etc/app/conf-", ".yaml"},
	{"vim /etc/nginx/sites/site-", ".conf"},
	{"docker logs --tail 100 svc-", ""},
	{`sudo -u postgres psql -c "VACUUM ANALYZE accounts_`, `"`},
	{`mysql -e "DROP TABLE tmp_`, `"`},
	{"rm -rf /tmp/build-", ""},
	{"cp /etc/nginx/nginx.conf /root/nginx.conf.", ".bak"},
	{"ps aux | grep worker-", ""},
	{"curl -s http://localhost:8080/health?id=", ""},
	{"git pull origin release-", ""},
	{"export PGPASSWORD=hunter", " && pg_dump shop > /tmp/dump.sql"},
}

// outputMessages are the messages of generated output lines, each followed
// by a number.
var outputMessages = []string{
	"request completed in ms:",
	"connection refused from 10.0.0.",
	"disk usage at percent",
	"checkpoint complete: wrote buffers",
	"accepted login for uid",
	"slow query took ms",
	"cache miss ratio per mille",
	"worker heartbeat ok seq",
	"TLS handshake failed with peer 192.168.1.",
	"retrying job attempt",
	"GET /api/v1/orders 200 bytes",
	"POST /api/v1/login 401 bytes",
	"backup finished, archived files",
	"OOM killer terminated pid",
	"replication lag seconds",
	"certificate expires in days",
}

var outputLevels = []string{"INFO", "INFO", "INFO", "DEBUG", "WARN", "ERROR"}

// sqlArray renders strs as a ClickHouse array literal.
func sqlArray(strs []string) string {
	q := make([]string, len(strs))
	for i, s := range strs {
		q[i] = sqlString(s)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

// sqlString renders s as a ClickHouse string literal.
func sqlString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// Planted is the command the generator plants on PlantDay: typed by
// PlantTypist, a peer, in a four-eyes session of PlantUser that
// PlantApprover approved. Tests and benchmarks look for it.
const (
	Planted       = "DROP TABLE planted_xyz"
	PlantTypist   = "planted-typist"
	PlantApprover = PlantTypist // the approver joined as a peer and typed it
	PlantUser     = "planted-owner"
	PlantHost     = "planted-db-1"
	PlantDay      = 45 // day number within the window; k = 0 of that day
)

// sessionsSQL returns a subquery with one row per session of day (0-based
// day number), starting at dayStart (Unix seconds): its attributes, drawn
// from cityHash64 of (day, k).
func sessionsSQL(c Config, day int, dayStart int64, count int) string {
	planted := "0"
	if day == PlantDay {
		planted = "k = 0"
	}
	return fmt.Sprintf(`SELECT
    k, sid, planted, ui,
    if(planted, %[5]s, concat('user', toString(ui))) AS user,
    if(planted, %[6]s, concat('user', toString((ui + 1 + cityHash64(%[1]d, k, 4) %% (%[3]d - 1)) %% %[3]d))) AS approver,
    if(planted, %[7]s, concat('host-', toString(cityHash64(%[1]d, k, 2) %% %[4]d))) AS host,
    planted OR cityHash64(%[1]d, k, 3) %% 10 < 3 AS fe,
    if(fe, 'production', 'admin') AS class,
    if(NOT planted AND cityHash64(%[1]d, k, 5) %% 100 >= 85, 'exec', 'shell') AS kind,
    if(kind = 'exec', 6 + cityHash64(%[1]d, k, 6) %% 30,
       8 + cityHash64(%[1]d, k, 6) %% 100 + if(cityHash64(%[1]d, k, 7) %% 10 = 0, cityHash64(%[1]d, k, 7) %% 2000, 0)) AS len,
    cityHash64(%[1]d, k, 8) %% 50 = 0 AS xfer,
    50 + cityHash64(%[1]d, k, 9) %% 2950 AS step_ms,
    (%[2]d + cityHash64(%[1]d, k, 10) %% (86400 - 7200)) * 1000000000 + cityHash64(%[1]d, k, 11) %% 1000000000 AS start_ns,
    concat('10.', toString(cityHash64(%[1]d, k, 12) %% 256), '.', toString(cityHash64(%[1]d, k, 13) %% 256), '.7:', toString(40000 + k %% 20000)) AS remote
FROM (SELECT number AS k, lower(hex(cityHash64(%[1]d, number, 1))) AS sid, %[8]s AS planted,
    toUInt64(pow((cityHash64(%[1]d, number, 0) %% 1000003) / 1000003, 2) * %[3]d) AS ui
    FROM numbers(%[9]d))`,
		day, dayStart, c.Users, c.Hosts, sqlString(PlantUser), sqlString(PlantApprover), sqlString(PlantHost), planted, count)
}

// eventsSQL returns the INSERT of every event of the sessions of day.
func eventsSQL(c Config, db string, day int, dayStart int64, count int) string {
	cmds := make([]string, len(commandTemplates))
	sufs := make([]string, len(commandTemplates))
	for i, t := range commandTemplates {
		cmds[i], sufs[i] = t[0], t[1]
	}
	// Per event: he is its hash; typ its type, by position in the session.
	return fmt.Sprintf(`INSERT INTO %[1]s.events (session, seq, ts, ts_ns, type, gateway, actor, data, meta, class, retention_days, version, prev_hash, hash)
SELECT sid, seq, toDateTime(intDiv(ts_ns, 1000000000)), ts_ns, typ, 'gw1', actor, data, meta, class, %[2]d, 1,
    if(seq = 0, '%[3]s', lower(hex(SHA256(concat(sid, ':', toString(seq - 1)))))),
    lower(hex(SHA256(concat(sid, ':', toString(seq)))))
FROM (
SELECT sid, seq, class, ts_ns,
    cityHash64(sid, seq) AS he,
    multiIf(seq = 0, 'session.start', seq = len - 1, 'session.end',
        fe AND seq = 1, 'approval.grant', fe AND seq = 2, 'participant.join',
        kind = 'exec' AND seq = 3, 'exec',
        planted AND seq = 3, 'input',
        xfer AND seq = len - 2, 'transfer',
        kind = 'shell' AND seq > 2 AND he %% 100 = 0, 'input', 'output') AS typ,
    multiIf(typ IN ('approval.grant', 'participant.join'), approver,
        typ = 'input' AND fe AND (planted OR intDiv(he, 100000) %% 10 = 7), approver,
        typ IN ('output', 'session.end'), '', user) AS actor,
    concat(%[4]s[intDiv(he, 1000) %% %[6]d + 1], toString(intDiv(he, 1000000) %% 1000), %[5]s[intDiv(he, 1000) %% %[6]d + 1]) AS cmd,
    multiIf(typ = 'input', concat(if(planted AND seq = 3, %[10]s, cmd), '\r'),
        typ = 'exec', cmd,
        typ = 'output', concat(toString(toDateTime(intDiv(ts_ns, 1000000000))), ' ',
            %[7]s[intDiv(he, 7) %% %[8]d + 1], ' worker-', toString(intDiv(he, 13) %% 64), '[', toString(1000 + intDiv(he, 17) %% 30000), ']: ',
            %[9]s[intDiv(he, 19) %% %[11]d + 1], ' ', toString(intDiv(he, 23) %% 100000),
            if(he %% 5 = 0, concat(' trace=', lower(hex(cityHash64(he)))), ''), '\r\n'),
        '') AS data,
    multiIf(typ = 'session.start', concat('{"cols":"80","gateway":"gw1","host":"', host, '","kind":"', kind,
            '","login":"root","remote":"', remote, '","rows":"24","term":"xterm-256color","user":"', user, '"}'),
        typ = 'session.end', concat('{', if(fe, concat('"approvers":"', approver, '",'), ''), '"exit_status":"0","host":"', host,
            '","kind":"', kind, '","login":"root","started_ns":"', toString(start_ns), '","user":"', user, '"}'),
        typ = 'transfer', concat('{"bytes_up":"', toString(he %% 10000000), '","direction":"upload","path":"/srv/upload/report-',
            toString(he %% 1000), '.csv","status":"ok","via":"scp"}'),
        '{}') AS meta
FROM (
    SELECT sid, planted, user, approver, host, fe, class, kind, len, xfer, start_ns, remote, seq,
        start_ns + seq * step_ms * 1000000 AS ts_ns FROM (%[12]s) ARRAY JOIN range(len) AS seq
))`, db, c.RetentionDays, zeroHash, sqlArray(cmds), sqlArray(sufs), len(cmds),
		sqlArray(outputLevels), len(outputLevels), sqlArray(outputMessages), sqlString(Planted), len(outputMessages),
		sessionsSQL(c, day, dayStart, count))
}

const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// dayCond selects the rows of one day of events (ts) by partition.
func dayCond(col string, dayStart int64) string {
	return fmt.Sprintf("%[1]s >= toDateTime(%[2]d) AND %[1]s < toDateTime(%[3]d)", col, dayStart, dayStart+86400)
}

// sessionRowsSQL derives the sessions rows of day from its events, as
// ingest does from session.end (one row per session, version = last seq).
func sessionRowsSQL(db string, dayStart int64) string {
	return fmt.Sprintf(`INSERT INTO %[1]s.sessions (session, version, kind, user, host, login, remote, gateway, started, started_ns, ended_ns,
    exit_status, interrupted, command, bytes_in, bytes_out, approvers, reason, last_seq, last_hash, class, retention_days)
SELECT session, version, visitParamExtractString(m, 'kind'), visitParamExtractString(m, 'user'), visitParamExtractString(m, 'host'), 'root',
    visitParamExtractString(m, 'remote'), 'gw1', toDateTime(intDiv(s_ns, 1000000000)), s_ns, e_ns, 0, 0, command,
    bytes_in, bytes_out, approvers, '', version, last_hash, class, retention_days
FROM (SELECT session, max(seq) AS version, anyIf(meta, seq = 0) AS m, minIf(ts_ns, seq = 0) AS s_ns,
    maxIf(ts_ns, type = 'session.end') AS e_ns, anyIf(data, type = 'exec') AS command,
    sumIf(length(data), type = 'input') AS bytes_in, sumIf(length(data), type = 'output') AS bytes_out,
    groupUniqArrayIf(actor, type = 'approval.grant') AS approvers, argMax(hash, seq) AS last_hash,
    any(class) AS class, any(retention_days) AS retention_days
  FROM %[1]s.events WHERE %[2]s GROUP BY session)`, db, dayCond("ts", dayStart))
}

// commandRowsSQL derives the commands rows of day: one per input event
// (each carries one whole line and its Enter, so the reconstruction is
// the line itself, idx 0), exec event and transfer, as ingest's
// commandRowOf and fileRowOf make them.
func commandRowsSQL(db string, dayStart int64) string {
	return fmt.Sprintf(`INSERT INTO %[1]s.commands (session, seq, idx, ts, ts_ns, kind, host, user, actor, typists, approximate, blind, line, detail, class, retention_days)
SELECT session, seq, 0, ts, ts_ns, multiIf(type = 'input', 'typed', type = 'exec', 'exec', 'file'), host, user, actor, [actor], 0, 0,
    multiIf(type = 'input', substring(data, 1, length(data) - 1), type = 'exec', data,
        visitParamExtractString(meta, 'path')),
    if(type = 'transfer', concat('via=', visitParamExtractString(meta, 'via'), ' direction=', visitParamExtractString(meta, 'direction'),
        ' status=', visitParamExtractString(meta, 'status'), ' bytes_up=', visitParamExtractString(meta, 'bytes_up')), ''),
    class, retention_days
FROM %[1]s.events
ANY INNER JOIN (SELECT session, host, user FROM %[1]s.sessions WHERE %[3]s) USING session
WHERE %[2]s AND type IN ('input', 'exec', 'transfer')`, db, dayCond("ts", dayStart), dayCond("started", dayStart))
}

// participantRowsSQL derives the participants rows of day: one per
// (session, name, role) at its first event, as ingest's roleOf makes them.
func participantRowsSQL(db string, dayStart int64) string {
	return fmt.Sprintf(`INSERT INTO %[1]s.participants (session, name, role, seq, ts, ts_ns, host, user, kind, class, retention_days)
SELECT session, name, role, first_seq, first_ts, first_ns, host, user, kind, p_class, p_days FROM (
    SELECT session, name, role, min(seq) AS first_seq, argMin(ts, seq) AS first_ts, argMin(ts_ns, seq) AS first_ns, any(class) AS p_class,
        any(retention_days) AS p_days
    FROM (SELECT session, seq, ts, ts_ns, class, retention_days,
            if(type = 'session.start', visitParamExtractString(meta, 'user'), actor) AS name,
            multiIf(type = 'session.start', 'started', type = 'approval.grant', 'approved', type = 'participant.join', 'joined', 'typed') AS role
        FROM %[1]s.events WHERE %[2]s AND type IN ('session.start', 'approval.grant', 'participant.join', 'input'))
    GROUP BY session, name, role)
ANY INNER JOIN (SELECT session, host, user, kind FROM %[1]s.sessions WHERE %[3]s) USING session`, db, dayCond("ts", dayStart), dayCond("started", dayStart))
}
