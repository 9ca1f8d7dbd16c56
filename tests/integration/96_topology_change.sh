#!/usr/bin/env bash
# One topology in force (issue 13): `cdc-agent run` under systemd in a
# container, with a writer updating rows of every published table all along.
#   1. the topology is edited (a table added) and `bootstrap` run while run is
#      active: no table ever leaves the publication (polled every ~0.2 s), the
#      added table arrives with no manual restart (run/bootstrap restart the
#      units whose configuration changed), a second bootstrap changes nothing;
#   2. a table removed from the topology: run (inotify, no SIGHUP) restarts
#      capture and apply, and drops the table from the publication only after
#      capture restarted; no event for it reaches Kafka afterwards;
#   3. digests of every table equal source vs target;
#   4. with a period of an hour, an invalid edit keeps the topology in force
#      (journal and STATUS= say so), a valid one is loaded within seconds;
#   5. tables = public.*, !public.t3: a table created later (no edit) joins at
#      run's next pass, capture and apply restarted by run, digests equal;
#   6. fan-out: a second pipeline of db1 (into db3) added and bootstrapped:
#      its apply runs, no capture unit of its own, db1-to-db2's units not
#      restarted, db3 equal, `capture` of it refused, status says who captures.
# On the code before (run reloading only on SIGHUP, every pipeline restarted
# by bootstrap's whole-file digest): step 1 fails (run's next pass drops
# public.big from the publication), step 2 and 4 fail (no reload without
# SIGHUP).
. "$(dirname "$0")/../lib/harness.sh"
. "$REPO_ROOT/tests/lib/container.sh"
. "$REPO_ROOT/tests/lib/seed.sh"

if [ "$(id -u)" -ne 0 ] || ! command -v systemd-nspawn >/dev/null; then
	skip_or_fail "needs root and systemd-nspawn"
	finish
	exit
fi
seed_ports
seed_kafka_dist || { _fail "Kafka distribution built"; finish; exit; }
WORK=$(mktemp -d /tmp/cdc-96.XXXXXX)
POLL_PID= WRITER_PID=
cleanup() {
	[ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null
	[ -n "$WRITER_PID" ] && kill "$WRITER_PID" 2>/dev/null
	ct_shutdown
	rm -rf "$WORK"
}
trap cleanup EXIT
PERIOD=5
CAPTURE=cdc-capture@db1-to-db2.service
APPLY=cdc-apply@db1-to-db2.service
INI=/etc/cdc-agent/cdc-agent.ini
T0=$(date +%s)

agent() { ct_exec /usr/local/bin/cdc-agent -c $INI "$@"; }
unit_prop() { ct_exec systemctl show -p "$2" --value "$1"; }
# Realtime microseconds of the unit's last start ("t 1795620000000000").
unit_started_usec() { seed_unit_started_at "$1" | awk '{ print $2 }'; }
now_usec() { echo $(($(date +%s%N) / 1000)); }
journal() { ct_exec journalctl -u cdc-agent.service --no-pager -o cat; }
digest() { # DB TABLE
	seed_psql "$1" "SELECT count(*) || md5(coalesce(string_agg(id || ':' || coalesce(name, '~'), ',' ORDER BY id), '')) FROM $2" 2>/dev/null
}
converged() { # TABLE SECONDS
	local want got i
	for i in $(seq $(($2 * 2))); do
		want=$(digest db1 "$1")
		got=$(digest db2 "$1")
		[ -n "$want" ] && [ "$got" = "$want" ] && return 0
		sleep 0.5
	done
	echo "db1: $want db2: $got"
	return 1
}
wait_for() { # SECONDS COMMAND...
	local t=$1 i
	shift
	for i in $(seq $((t * 4))); do "$@" >/dev/null 2>&1 && return 0; sleep 0.25; done
	return 1
}
# The publication polled by the server itself, every 0.2 s, into an unlogged
# (unpublished, no WAL) table, until poll_stop has a row.
poll_publication() {
	seed_psql db1 "DO \$\$ BEGIN LOOP
		INSERT INTO public.pub_poll SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint,
			coalesce(string_agg(schemaname || '.' || tablename, ',' ORDER BY 1), '')
			FROM pg_publication_tables WHERE pubname = 'my_publication';
		COMMIT;
		EXIT WHEN EXISTS (SELECT 1 FROM public.poll_stop);
		PERFORM pg_sleep(0.2);
		END LOOP; END \$\$" >"$WORK/poll.log" 2>&1
}
last_poll() { seed_psql db1 "SELECT tables FROM public.pub_poll ORDER BY at DESC LIMIT 1"; }
# Polls at or after usec FROM and before usec UNTIL where TABLE was missing.
missing() { # TABLE FROM UNTIL
	seed_psql db1 "SELECT count(*) FROM public.pub_poll WHERE at >= $2 AND at < $3 AND
		',' || tables || ',' NOT LIKE '%,$1,%'"
}
first_seen() { # TABLE
	seed_psql db1 "SELECT min(at) FROM public.pub_poll WHERE ',' || tables || ',' LIKE '%,$1,%'"
}
big_published() { [ -n "$(first_seen public.big)" ]; }
t3_unpublished() { ! last_poll | grep -q public.t3; }
END=99999999999999999
loaded_count() { journal | grep -c "reload: topology $INI loaded"; }
kafka_count() { # TOPIC
	kcat -b "127.0.0.1:$KP" -C -t "$1" -e -q -o beginning 2>/dev/null | wc -l
}

ct_boot cdc-topo || { _fail "container boots"; finish; exit; }
seed_prepare || { _fail "seed database prepared"; finish; exit; }
seed_psql db1 "CREATE TABLE public.big (id int PRIMARY KEY, name text);
	CREATE TABLE public.t3 (id int PRIMARY KEY, name text);
	CREATE UNLOGGED TABLE public.writer_stop (stop bool);
	CREATE UNLOGGED TABLE public.poll_stop (stop bool);
	CREATE UNLOGGED TABLE public.pub_poll (at bigint, tables text);
	INSERT INTO public.my_table (id, name) SELECT g, 'row ' || g FROM generate_series(1, 200) g;
	INSERT INTO public.big SELECT g, 'big ' || g FROM generate_series(1, 20000) g;
	INSERT INTO public.t3 SELECT g, 't3 ' || g FROM generate_series(1, 200) g" >/dev/null
seed_install_agent "$CDC_AGENT" \
	"s|^state_dir = .*|&\nreconcile_seconds = $PERIOD\nstatus_listen = 127.0.0.1:$SP|" \
	"s|^tables = public.my_table$|tables = public.my_table, public.t3|" ||
	{ _fail "agent installed in the container"; finish; exit; }
out=$(agent bootstrap 2>&1) || { _fail "bootstrap" "$(tail -n 30 <<<"$out")"; finish; exit; }
ct_exec systemctl enable cdc-agent.service >/dev/null 2>&1
check "cdc-agent.service reaches READY" ct_exec systemctl start cdc-agent.service
check "my_table replicates" converged public.my_table 60
check "t3 replicates" converged public.t3 60
for k in capture apply; do
	check_contains "$k reports its configuration digest" '"config_digest": "' \
		"$(ct_exec cat /var/lib/cdc-agent/progress-$k-db1-to-db2.json)"
done

# The writer: one session updating a row of every table each ~20 ms, each
# update its own transaction, until writer_stop has a row.
seed_psql db1 "DO \$\$ BEGIN FOR i IN 1..1000000 LOOP
	UPDATE public.my_table SET name = 'w' || i WHERE id = 1 + i % 200;
	UPDATE public.big SET name = 'w' || i WHERE id = 1 + (i * 7) % 20000;
	UPDATE public.t3 SET name = 'w' || i WHERE id = 1 + i % 200;
	COMMIT;
	EXIT WHEN EXISTS (SELECT 1 FROM public.writer_stop);
	PERFORM pg_sleep(0.02);
	END LOOP; END \$\$" >"$WORK/writer.log" 2>&1 &
WRITER_PID=$!
poll_publication &
POLL_PID=$!
sleep 2

# --- 1. a table added: edit + bootstrap while run is active ------------------
cap_inv=$(unit_prop $CAPTURE InvocationID)
ct_exec sed -i 's/^tables = public.my_table, public.t3$/tables = public.my_table, public.t3, public.big/' $INI
out=$(agent bootstrap 2>&1); rc=$?
check_eq "bootstrap with the edited topology succeeds while run is active" 0 "$rc"
[ "$rc" = 0 ] || tail -n 30 <<<"$out"
check "public.big is in the publication" wait_for 30 big_published
check "capture was restarted by run or bootstrap (no hand)" wait_for 60 \
	sh -c "[ \"\$(nsenter -t $CT_LEADER -a systemctl show -p InvocationID --value $CAPTURE)\" != $cap_inv ]"
check_contains "the restart names the unit and why" \
	"restart $CAPTURE: its configuration changed" "$(journal; echo "$out")"
# Let run make two periodic passes with the new topology.
sleep $((PERIOD * 2 + 1))
check_eq "no poll of the publication ever missed my_table" 0 "$(missing public.my_table 0 $END)"
check_eq "nor t3" 0 "$(missing public.t3 0 $END)"
first_big=$(first_seen public.big)
check_eq "nor public.big once added" 0 "$(missing public.big "${first_big:-0}" $END)"
check_not_contains "run never dropped a table from the publication" "drop table" "$(journal)"
out=$(agent bootstrap 2>&1)
check_contains "a second bootstrap changes nothing" "bootstrap: nothing to change" "$out"

# --- 2. a table removed: run alone (inotify), capture restarted first ---------
cap_inv=$(unit_prop $CAPTURE InvocationID)
app_inv=$(unit_prop $APPLY InvocationID)
edit_usec=$(now_usec)
ct_exec sed -i 's/^tables = public.my_table, public.t3, public.big$/tables = public.my_table, public.big/' $INI
check "t3 leaves the publication (run, no bootstrap, no SIGHUP)" wait_for 60 t3_unpublished
check_eq "capture was restarted" 1 "$([ "$(unit_prop $CAPTURE InvocationID)" != "$cap_inv" ] && echo 1)"
check_eq "apply was restarted" 1 "$([ "$(unit_prop $APPLY InvocationID)" != "$app_inv" ] && echo 1)"
cap_start=$(unit_started_usec $CAPTURE)
echo "# t3 removed: capture restarted $(((cap_start - edit_usec) / 1000)) ms after the edit"
check "the new capture's start time is known" test "${cap_start:-0}" -gt "$edit_usec"
check_eq "t3 stayed in every poll before the new capture started" 0 "$(missing public.t3 0 "${cap_start:-0}")"
check "and polls saw it there after the edit" test "$(seed_psql db1 "SELECT count(*) FROM public.pub_poll WHERE at >= $edit_usec AND tables LIKE '%public.t3%'")" -gt 0
j=$(journal)
restart_line=$(grep -n "restart $CAPTURE: its configuration changed" <<<"$j" | tail -n 1 | cut -d: -f1)
drop_line=$(grep -n "drop table public.t3 from publication my_publication" <<<"$j" | tail -n 1 | cut -d: -f1)
check "the journal says the capture restart, then the drop" test "${restart_line:-0}" -gt 0 -a "${drop_line:-0}" -gt "${restart_line:-0}"
check_contains "run says why the drop waits" "drop of table public.t3 from publication my_publication deferred" "$j"
sleep 3
n1=$(kafka_count db1server.public.t3)
sleep 4
n2=$(kafka_count db1server.public.t3)
check_eq "no more events for t3 on Kafka while the writer still updates it" "$n1" "$n2"
check "the writer still runs" kill -0 "$WRITER_PID"
out=$(agent bootstrap 2>&1)
check_contains "a bootstrap after the removal changes nothing" "bootstrap: nothing to change" "$out"

# --- 3. every table equal source vs target ------------------------------------
seed_psql db1 "INSERT INTO public.writer_stop VALUES (true)" >/dev/null
wait "$WRITER_PID"
WRITER_PID=
check "the writer ran until told to stop" sh -c "! grep -q ERROR $WORK/writer.log"
check "my_table: source and target equal" converged public.my_table 90
check "big (added under load): source and target equal" converged public.big 90
seed_psql db1 "INSERT INTO public.poll_stop VALUES (true)" >/dev/null
wait "$POLL_PID"
POLL_PID=
check_eq "over the whole run, no poll missed my_table" 0 "$(missing public.my_table 0 $END)"
check_eq "nor public.big once added" 0 "$(missing public.big "${first_big:-0}" $END)"
echo "# publication polls: $(seed_psql db1 "SELECT count(*) || ' over ' || round((max(at) - min(at)) / 1e6, 1) || ' s, longest gap ' || round(max(d) / 1e3) || ' ms' FROM (SELECT at, at - lag(at) OVER (ORDER BY at) AS d FROM public.pub_poll) p")"

# --- 4. inotify: an invalid edit keeps the topology, a valid one is loaded ------
n=$(loaded_count)
ct_exec sed -i "s/^reconcile_seconds = $PERIOD$/reconcile_seconds = 3600/" $INI
check "a period of an hour is loaded" wait_for 20 sh -c "[ \"\$(nsenter -t $CT_LEADER -a journalctl -u cdc-agent.service -o cat | grep -c 'reload: topology $INI loaded')\" -gt $n ]"
sleep 1
cap_inv=$(unit_prop $CAPTURE InvocationID)
ct_exec sed -i 's/^\[agent\]$/[agent]\nbogus_key = 1/' $INI
check "an invalid edit is reported within 5 s (no SIGHUP, no period)" wait_for 5 sh -c \
	"nsenter -t $CT_LEADER -a journalctl -u cdc-agent.service -o cat | grep -q 'is invalid (errors above); the topology in force is kept'"
check_contains "naming the key at fault" "unknown key 'bogus_key'" "$(journal)"
check_eq "the agent keeps running" active "$(unit_prop cdc-agent.service ActiveState)"
# STATUS= follows the log line that says so (sd_notify after log_error): wait.
status_failed() { unit_prop cdc-agent.service StatusText | grep -q "reload FAILED"; }
check "its STATUS= says the previous topology runs" wait_for 5 status_failed
n=$(loaded_count)
ct_exec sed -i -e '/^bogus_key = 1$/d' -e 's/^reconcile_seconds = 3600$/reconcile_seconds = 3599/' $INI
check "a valid edit is loaded within 5 s by inotify" wait_for 5 sh -c \
	"[ \"\$(nsenter -t $CT_LEADER -a journalctl -u cdc-agent.service -o cat | grep -c 'reload: topology $INI loaded')\" -gt $n ]"
check_eq "and an [agent] edit restarts no pipeline" "$cap_inv" "$(unit_prop $CAPTURE InvocationID)"
status_fixed() { ! unit_prop cdc-agent.service StatusText | grep -q "reload FAILED"; }
check "STATUS= no longer says reload FAILED once the pass is done" wait_for 10 status_fixed

# --- 5. a pattern: a table created later joins at run's next pass --------------
# public.* matches my_table and big (t3 excluded; the unlogged tables never
# match): no table changes, only the tables' spelling.  Then t4 is created
# with no edit of the topology: run's next pass adds it to the publication,
# restarts capture and apply (their digest includes the tables resolved) and
# capture snapshots it.
n=$(loaded_count)
ct_exec sed -i -e 's/^reconcile_seconds = 3599$/reconcile_seconds = '"$PERIOD"'/' \
	-e 's/^tables = public.my_table, public.big$/tables = public.*, !public.t3/' $INI
check "the pattern topology is loaded" wait_for 20 sh -c \
	"[ \"\$(nsenter -t $CT_LEADER -a journalctl -u cdc-agent.service -o cat | grep -c 'reload: topology $INI loaded')\" -gt $n ]"
sleep $((PERIOD + 2))
cap_inv=$(unit_prop $CAPTURE InvocationID)
app_inv=$(unit_prop $APPLY InvocationID)
seed_psql db1 "CREATE TABLE public.t4 (id int PRIMARY KEY, name text);
	INSERT INTO public.t4 SELECT g, 't4 ' || g FROM generate_series(1, 300) g" >/dev/null
t4_published() { seed_psql db1 "SELECT 1 FROM pg_publication_tables WHERE pubname = 'my_publication' AND tablename = 't4'" | grep -q 1; }
check "t4 joins the publication at run's next pass (no edit, no bootstrap)" wait_for $((PERIOD * 3 + 10)) t4_published
check "capture was restarted for it" wait_for 30 sh -c "[ \"\$(nsenter -t $CT_LEADER -a systemctl show -p InvocationID --value $CAPTURE)\" != $cap_inv ]"
check "apply too" wait_for 30 sh -c "[ \"\$(nsenter -t $CT_LEADER -a systemctl show -p InvocationID --value $APPLY)\" != $app_inv ]"
check_contains "run says it joins" "table public.t4 joins: a pattern of tables now matches it" "$(journal)"
seed_psql db1 "INSERT INTO public.t4 VALUES (301, 'after'); UPDATE public.t4 SET name = 'changed' WHERE id = 5;
	DELETE FROM public.t4 WHERE id = 6; UPDATE public.my_table SET name = 'after t4' WHERE id = 1" >/dev/null
check "t4 (snapshot and stream): source and target equal" converged public.t4 90
check "my_table still equal" converged public.my_table 60
check "big still equal" converged public.big 60
check_eq "t3 stays out of the publication (excluded)" 0 \
	"$(seed_psql db1 "SELECT count(*) FROM pg_publication_tables WHERE pubname = 'my_publication' AND tablename = 't3'")"

# --- 6. fan-out: a second pipeline of db1, into db3 ----------------------------
# Its apply only: no capture unit of its own, nothing of db1-to-db2 restarted
# (issue #19 point 3).
FAN_APPLY=cdc-apply@db1-to-db3.service
FAN_CAPTURE=cdc-capture@db1-to-db3.service
cap_inv=$(unit_prop $CAPTURE InvocationID)
app_inv=$(unit_prop $APPLY InvocationID)
ct_exec sh -c "sed -n '/^\[target db2\]/,/^\[/p' $INI | sed -e '\$d' -e 's/^\[target db2\]/[target db3]/' \
	-e 's/^dbname = db2/dbname = db3/' -e 's/^user = db2_user/user = db3_user/' >/tmp/db3.ini &&
	printf '\n[pipeline db1-to-db3]\nsource = db1\ntarget = db3\n' >>/tmp/db3.ini && cat /tmp/db3.ini >>$INI"
out=$(agent status 2>&1)
if grep -q "^db1-to-db3 " <<<"$out"; then
	_pass "status right after the edit shows db1-to-db3 (run loaded it already)"
else
	check_contains "status right after the edit names db1-to-db3 as not yet run" \
		"pipeline db1-to-db3 is in $INI but not yet run by the agent" "$out"
fi
out=$(agent bootstrap 2>&1); rc=$?
check_eq "fan-out: bootstrap with a second pipeline of db1 succeeds" 0 "$rc"
[ "$rc" = 0 ] || tail -n 30 <<<"$out"
# run (inotify) may have converged the edit before bootstrap took the lock
check_contains "bootstrap or run starts the new pipeline's apply" "start $FAN_APPLY" "$(journal; echo "$out")"
check_not_contains "and no capture of its own" "$FAN_CAPTURE" "$(journal; echo "$out")"
check_eq "its apply is active" active "$(unit_prop $FAN_APPLY ActiveState)"
check_eq "no capture unit runs for it" inactive "$(unit_prop $FAN_CAPTURE ActiveState)"
fan_converged() { [ "$(digest db1 public.my_table)" = "$(digest db3 public.my_table)" ]; }
seed_psql db1 "UPDATE public.my_table SET name = 'fan-out' WHERE id = 2" >/dev/null
check "db3 equals db1 (my_table)" wait_for 90 fan_converged
check_eq "db1-to-db2's capture was not restarted" "$cap_inv" "$(unit_prop $CAPTURE InvocationID)"
check_eq "nor its apply" "$app_inv" "$(unit_prop $APPLY InvocationID)"
# run loads the edit at its pass after bootstrap's; until then status says
# the agent runs another version of the file, and which pipeline it lacks.
fan_status() { agent status 2>&1 | grep -q "captured by pipeline db1-to-db2"; }
check "status: the new pipeline's capture is db1-to-db2's" wait_for 30 fan_status
ct_exec /usr/local/bin/cdc-agent -c $INI capture db1-to-db3 >/dev/null 2>&1
check_eq "capture db1-to-db3 is refused (exit 64)" 64 "$?"
sleep $((PERIOD + 1))
check_eq "run's passes start no capture for it" inactive "$(unit_prop $FAN_CAPTURE ActiveState)"
out=$(agent bootstrap 2>&1)
check_contains "a second bootstrap changes nothing" "bootstrap: nothing to change" "$out"

[ "$TESTS_FAILED" -gt 0 ] &&
	ct_exec journalctl -u cdc-agent.service -u $APPLY -u $CAPTURE --no-pager -o short-monotonic | tail -n 80 | sed 's/^/# journal: /'
echo "# elapsed: $(($(date +%s) - T0)) s"
cleanup
trap - EXIT
finish
