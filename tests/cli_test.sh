#!/usr/bin/env bash
# CLI contract tests of the real `braid` binary (DESIGN.md §4): bad job specs,
# corrupt data files, argument errors, --help, and `braid eval`.
#   usage: tests/cli_test.sh BRAID_BINARY      (run from the repository root)
# Prints each check; exits non-zero at the first failure.
set -u

BRAID=${1:?usage: cli_test.sh BRAID_BINARY}
JOB=tests/data/jobs/tiny.yaml
FM=/usr/share/datasets/fashion-mnist
[[ -x $BRAID ]] || { echo "FAIL: $BRAID is not executable"; exit 1; }
[[ -f $JOB ]] || { echo "FAIL: run from the repository root ($JOB not found)"; exit 1; }

source "$(dirname "${BASH_SOURCE[0]}")/shell_lib.sh"
test_begin braid-cli-test

# run ARGS...: runs the binary, sets RC, output in $T/stdout and $T/stderr.
run() {
  "$BRAID" "$@" >"$T/stdout" 2>"$T/stderr"
  RC=$?
}

# derive NAME SED_EXPR: writes $T/NAME.yaml from tiny.yaml; fails if the
# expression changed nothing (so a renamed key cannot make a case vacuous).
derive() {
  sed -e "$2" "$JOB" >"$T/$1.yaml"
  cmp -s "$JOB" "$T/$1.yaml" && fail "derive $1: '$2' did not change $JOB"
}

# bad_spec_file NAME YAML EXPECTED_LINE_REGEX [EXTRA ARGS...]
# `braid train` must exit 2, print exactly one stderr line matching the regex
# (anchored: it must start with the field path), and not create the run dir.
bad_spec_file() {
  local name=$1 yaml=$2 want=$3
  shift 3
  local dir="$T/run-$name"
  run train "$yaml" --single-process --run-dir "$dir" "$@"
  [[ $RC -eq 2 ]] || fail "$name: exit code $RC, want 2"
  local lines
  lines=$(wc -l <"$T/stderr")
  [[ $lines -eq 1 ]] || fail "$name: $lines lines on stderr, want exactly 1"
  grep -Eq "^$want\$" "$T/stderr" || fail "$name: stderr does not match /^$want\$/"
  [[ ! -e $dir ]] || fail "$name: run dir $dir was created"
  ok "$name: exit 2, '$(cat "$T/stderr")'"
}
# bad_spec NAME SED_EXPR EXPECTED_LINE_REGEX [EXTRA ARGS...]: tiny.yaml edited by SED_EXPR.
bad_spec() {
  local name=$1 expr=$2
  shift 2
  derive "$name" "$expr"
  bad_spec_file "$name" "$T/$name.yaml" "$@"
}

echo "== bad job specs (exit 2, one line naming the field, no run dir)"
bad_spec unknown-key 's/^seed: 7$/seed: 7\nbogus_key: 1/' \
  'bogus_key: unknown key'
bad_spec unknown-nested-key 's/vocab: 264}/vocab: 264, bogus: 3}/' \
  'model\.llm\.bogus: unknown key'
bad_spec wrong-type-int 's/^  steps: 4$/  steps: four/' \
  "train\.steps: .*four.*"
bad_spec wrong-type-seq 's/^  global_batch: 8$/  global_batch: [8]/' \
  'train\.global_batch: .*'
bad_spec wrong-type-number 's/^  lr: 0.002$/  lr: 1e-3x/' \
  "train\.lr: .*1e-3x.*"
bad_spec missing-dataset "s#fashion_mnist: $FM#fashion_mnist: $T/no-such-dir#" \
  "data\.fashion_mnist: .*no-such-dir.*"
bad_spec heads-divide 's/llm: {width: 32, layers: 1, heads: 2,/llm: {width: 32, layers: 1, heads: 6,/' \
  'model\.llm\.heads: 6 does not divide width 32'
bad_spec encoder-heads-divide 's/width: 16, layers: 1, heads: 2, mlp_ratio: 2}/width: 16, layers: 1, heads: 3, mlp_ratio: 2}/' \
  'model\.encoder\.heads: 3 does not divide width 16'
bad_spec image-patch 's/encoder: {image_size: 28,/encoder: {image_size: 30,/' \
  'model\.encoder\.image_size: 30 is not divisible by patch 7'
bad_spec generator-patch 's/^    patch: 7$/    patch: 5/' \
  'model\.generator\.image_size: 28 is not divisible by patch 5'
bad_spec negative-batch 's/^  global_batch: 8$/  global_batch: -8/' \
  'train\.global_batch: .*-8.*'
bad_spec negative-images 's/^  max_images: 4$/  max_images: -1/' \
  'data\.max_images: .*-1.*'
bad_spec negative-keep 's/^  keep: 3$/  keep: -1/' \
  'checkpoint\.keep: .*-1.*'
bad_spec negative-seed 's/^seed: 7$/seed: -7/' \
  'seed: .*-7.*'
bad_spec microbatches-divide 's/^  microbatches: 2$/  microbatches: 3/' \
  'train\.microbatches: 3 does not divide global_batch 8'
bad_spec context-too-short 's/^  max_images: 4$/  max_images: 40/' \
  'model\.llm\.max_seq: .*'
{ cat "$JOB"; printf 'parallel:\n  llm: {tp: 3}\n'; } >"$T/tp-divide.yaml"
bad_spec_file tp-divide "$T/tp-divide.yaml" 'parallel\.llm\.tp: 3 does not divide model\.llm\.heads 2'
# A CLI override is validated like the file: warmup_steps 1 needs steps > 1.
bad_spec_file override-steps "$JOB" 'train\.warmup_steps: 1 must be less than steps 1' --steps 1
# YAML syntax errors are "<file>:<line>:<col>: <message>".
bad_spec yaml-syntax 's/^  global_batch: 8$/  global_batch: 8: 9/' \
  ".*/yaml-syntax\.yaml:[0-9]+:[0-9]+: .*"
bad_spec_file missing-file "$T/no-such-job.yaml" ".*no-such-job\.yaml: .*"

echo "== corrupt Fashion-MNIST files (non-zero exit, no crash, message names the file)"
# fm_dir NAME: a dataset dir with links to the three good files (all but train images).
fm_dir() {
  local d="$T/fm-$1"
  mkdir -p "$d"
  for f in train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte; do
    ln -s "$FM/$f.gz" "$d/$f.gz"
  done
  echo "$d"
}
# bad_data NAME DIR FILE_REGEX
bad_data() {
  local name=$1 dir=$2 file=$3
  derive "data-$name" "s#fashion_mnist: $FM#fashion_mnist: $dir#"
  local rundir="$T/run-data-$name"
  run train "$T/data-$name.yaml" --single-process -q --run-dir "$rundir"
  [[ $RC -ne 0 ]] || fail "$name: exit code 0"
  [[ $RC -lt 128 ]] || fail "$name: exit code $RC (crashed: signal $((RC - 128)))"
  [[ $RC -eq 2 ]] || fail "$name: exit code $RC, want 2 (bad input: data files)"
  grep -Eq "$file" "$T/stderr" || fail "$name: stderr does not name /$file/"
  local lines
  lines=$(wc -l <"$T/stderr")
  [[ $lines -eq 1 ]] || fail "$name: $lines lines on stderr, want 1"
  [[ ! -e $rundir ]] || fail "$name: run dir created for a job that never started"
  ok "$name: exit $RC, '$(cat "$T/stderr")'"
}
D=$(fm_dir truncated-gz)
head -c 100000 "$FM/train-images-idx3-ubyte.gz" >"$D/train-images-idx3-ubyte.gz"
bad_data truncated-gz "$D" 'fm-truncated-gz/train-images-idx3-ubyte\.gz'
D=$(fm_dir truncated-raw)
# Raw IDX: header for 60000 28x28 images, then two bytes of data.
printf '\x00\x00\x08\x03\x00\x00\xea\x60\x00\x00\x00\x1c\x00\x00\x00\x1c\x01\x02' >"$D/train-images-idx3-ubyte"
bad_data truncated-raw "$D" 'fm-truncated-raw/train-images-idx3-ubyte'
D=$(fm_dir bad-magic)
printf 'this is not an IDX file' | gzip -c >"$D/train-images-idx3-ubyte.gz"
bad_data bad-magic "$D" 'fm-bad-magic/train-images-idx3-ubyte\.gz'
D=$(fm_dir not-gzip)
head -c 5000 /dev/urandom >"$D/train-images-idx3-ubyte.gz"
bad_data not-gzip "$D" 'fm-not-gzip/train-images-idx3-ubyte\.gz'
D=$(fm_dir missing)
bad_data missing "$D" 'train-images-idx3-ubyte'
D=$(fm_dir label-count)
ln -s "$FM/train-images-idx3-ubyte.gz" "$D/train-images-idx3-ubyte.gz"
rm "$D/train-labels-idx1-ubyte.gz"
# 10 labels for 60000 images.
printf '\x00\x00\x08\x01\x00\x00\x00\x0a\x00\x01\x02\x03\x04\x05\x06\x07\x08\x09' >"$D/train-labels-idx1-ubyte"
bad_data label-count "$D" 'train-labels-idx1-ubyte'

echo "== corrupt images in a user manifest (exit 2 before anything is written)"
# bad_manifest NAME FILE MUTATION: copies examples/manifest, applies MUTATION to FILE.
bad_manifest() {
  local name=$1 file=$2 mutation=$3
  local d="$T/manifest-$name"
  mkdir -p "$d"
  cp examples/manifest/* "$d/"
  case $mutation in
    truncate) head -c 100 "examples/manifest/$file" >"$d/$file" ;;
    garbage) printf 'not an image at all' >"$d/$file" ;;
    remove) rm "$d/$file" ;;
  esac
  sed -e "s#examples/manifest/manifest.jsonl#$d/manifest.jsonl#" examples/manifest-job.yaml >"$T/manifest-$name.yaml"
  local rundir="$T/run-manifest-$name"
  run train "$T/manifest-$name.yaml" --single-process -q --run-dir "$rundir"
  [[ $RC -eq 2 ]] || fail "manifest $name: exit code $RC, want 2"
  grep -q "$file" "$T/stderr" || fail "manifest $name: stderr does not name $file"
  [[ ! -e $rundir ]] || fail "manifest $name: run dir created"
  ok "manifest $name: exit 2, '$(cat "$T/stderr")'"
}
bad_manifest truncated-pgm img05.pgm truncate
bad_manifest garbage-image img03.pgm garbage
bad_manifest missing-image img11.pgm remove

echo "== arguments and --help"
for args in "--help" "train --help" "eval --help"; do
  # shellcheck disable=SC2086
  run $args
  [[ $RC -eq 0 ]] || fail "braid $args: exit code $RC, want 0"
  grep -qi "usage" "$T/stdout" || fail "braid $args: no usage on stdout"
  ok "braid $args: exit 0"
done
run train --help
for opt in --single-process --run-dir --resume --steps --threads; do
  grep -q -- "$opt" "$T/stdout" || fail "braid train --help does not mention $opt"
done
ok "braid train --help lists its options"
run
[[ $RC -eq 2 ]] || fail "braid (no subcommand): exit code $RC, want 2"
ok "braid (no subcommand): exit 2"
run train
[[ $RC -eq 2 ]] || fail "braid train (no job): exit code $RC, want 2"
ok "braid train (no job): exit 2"
run train "$JOB" --run-dir "$T/run-no-sp"
[[ $RC -eq 2 ]] || fail "braid train without --single-process: exit code $RC, want 2"
[[ ! -e $T/run-no-sp ]] || fail "braid train without --single-process created its run dir"
ok "braid train without --single-process: exit 2"
run train "$JOB" --single-process --steps 0 --run-dir "$T/run-steps0"
[[ $RC -eq 2 ]] || fail "braid train --steps 0: exit code $RC, want 2"
[[ ! -e $T/run-steps0 ]] || fail "braid train --steps 0 created its run dir"
ok "braid train --steps 0: exit 2"
run eval
[[ $RC -eq 2 ]] || fail "braid eval (neither --checkpoint nor --init): exit code $RC, want 2"
[[ $(wc -l <"$T/stderr") -eq 1 ]] || fail "braid eval (no flags): want one line on stderr"
ok "braid eval (no flags): exit 2, '$(cat "$T/stderr")'"
run eval --checkpoint "$T/no-such-run"
[[ $RC -eq 2 ]] || fail "braid eval --checkpoint MISSING: exit code $RC, want 2"
grep -q "no-such-run" "$T/stderr" || fail "braid eval --checkpoint MISSING: stderr does not name the path"
ok "braid eval --checkpoint MISSING: exit 2"
run eval --init "$T/missing-dataset.yaml" --json --limit 5
[[ $RC -eq 2 ]] || fail "braid eval --init BAD.yaml: exit code $RC, want 2"
grep -q "^data\.fashion_mnist: " "$T/stderr" || fail "braid eval --init BAD.yaml: field path not named"
ok "braid eval --init BAD.yaml: exit 2"

echo "== braid eval on a trained tiny run"
RUN="$T/run-ok"
run train "$JOB" --single-process -q --run-dir "$RUN"
[[ $RC -eq 0 ]] || fail "braid train $JOB: exit code $RC"
head -1 "$T/stdout" | grep -qx "RUN_DIR $RUN" || fail "braid train: first stdout line is not 'RUN_DIR $RUN'"
ok "braid train tiny: exit 0, prints RUN_DIR"
# eval_json ARGS...: exit 0, stdout is one JSON object with the metric keys.
eval_json() {
  run eval "$@" --json --limit 20 --threads 1
  [[ $RC -eq 0 ]] || fail "braid eval $*: exit code $RC"
  [[ $(wc -l <"$T/stdout") -eq 1 ]] || fail "braid eval $* --json: want one line on stdout"
  grep -Eq '^\{.*\}$' "$T/stdout" || fail "braid eval $* --json: stdout is not one JSON object"
  for key in caption_accuracy caption_total gen_loss; do
    grep -q "\"$key\":" "$T/stdout" || fail "braid eval $* --json: no $key"
  done
  grep -q '"caption_total":20' "$T/stdout" || fail "braid eval $* --json: --limit 20 not honoured"
  ok "braid eval $* --json: $(cat "$T/stdout")"
}
eval_json --checkpoint "$RUN"
eval_json --checkpoint "$RUN/checkpoints/step-2"
eval_json --init "$JOB"
# A corrupted shard: the named checkpoint is refused (checksum), not crashed on.
printf 'XXXX' | dd of="$RUN/checkpoints/step-4/llm.safetensors" bs=1 seek=5000 conv=notrunc 2>/dev/null
run eval --checkpoint "$RUN/checkpoints/step-4" --json --limit 5
[[ $RC -ne 0 && $RC -lt 128 ]] || fail "braid eval on a corrupt checkpoint: exit code $RC, want 1 or 2"
grep -q "llm.safetensors" "$T/stderr" || fail "braid eval on a corrupt checkpoint: file not named"
ok "braid eval on a corrupt checkpoint: exit $RC, '$(head -1 "$T/stderr")'"
# Given the run dir, eval skips the corrupt newest checkpoint for step-2.
run eval --checkpoint "$RUN" --json --limit 5
[[ $RC -eq 0 ]] || fail "braid eval RUN_DIR with a corrupt newest checkpoint: exit code $RC, want 0 (falls back)"
grep -q "step-4" "$T/stderr" || fail "braid eval RUN_DIR: no warning about the skipped step-4"
ok "braid eval RUN_DIR with a corrupt newest checkpoint: falls back, warns"

# bad_cmd SUBCMD WANT ARGS...: `braid SUBCMD ARGS...` must exit 2 and name
# WANT (a fixed string) on stderr; an empty WANT skips that check.
bad_cmd() {
  local sub=$1 want=$2
  shift 2
  run "$sub" "$@"
  [[ $RC -eq 2 ]] || fail "braid $sub $*: exit code $RC, want 2"
  if [[ -n $want ]]; then
    grep -qF -- "$want" "$T/stderr" || fail "braid $sub $*: stderr does not name '$want'"
  fi
  ok "braid $sub $*: exit 2, '$(head -1 "$T/stderr")'"
}

# --- braid reorder: bad samples files and sizes exit 2 naming the problem.
printf '{"id":1,"images":1,"image_tokens":576,"text_tokens":20,"gen_images":0}\nnot json\n' >"$T/s1.jsonl"
bad_cmd reorder "s1.jsonl:2" --samples "$T/s1.jsonl"
printf '{"id":1,"images":-1,"image_tokens":576,"text_tokens":20,"gen_images":0}\n' >"$T/s2.jsonl"
bad_cmd reorder "images" --samples "$T/s2.jsonl"
: >"$T/empty.jsonl"
bad_cmd reorder "no samples" --samples "$T/empty.jsonl"
bad_cmd reorder "--microbatches" --synthesize llava --count 3 --microbatches 4
bad_cmd reorder "--llm-dp" --synthesize llava --count 3 --llm-dp 5
bad_cmd reorder "unknown" --synthesize imagenet --count 10
bad_cmd reorder "--encoder-dp" --encoder-dp 0 --synthesize llava
run reorder --synthesize mixed --count 256 --encoder-dp 3 --llm-dp 2 --generator-dp 1 --microbatches 4 --json
[[ $RC -eq 0 ]] || fail "braid reorder --json: exit code $RC"
for p in sequential random lpt_per_sample balanced balanced+ordered; do
  grep -qF "\"$p\"" "$T/stdout" || fail "braid reorder --json: policy $p missing"
done
ok "braid reorder --json reports every policy"
# --- braid profile: measures the tiny job's model; braid reorder reads the result.
run profile "$JOB" -o "$T/profile.yaml" --repeats 1
[[ $RC -eq 0 ]] || fail "braid profile: exit code $RC"
grep -q '^llm: {linear: ' "$T/profile.yaml" || fail "braid profile: no llm coefficients in $T/profile.yaml"
run reorder --synthesize llava --count 64 --llm-dp 2 --microbatches 2 --profile "$T/profile.yaml" --json
[[ $RC -eq 0 ]] || fail "braid reorder --profile: exit code $RC"
grep -qF '"cost_model": "profile' "$T/stdout" || fail "braid reorder --profile: profile not used"
ok "braid profile writes a profile braid reorder --profile uses"
printf 'encoder: {linear: -1, attention: 0}\n' >"$T/bad-profile.yaml"
bad_cmd reorder "encoder.linear" --synthesize llava --count 8 --profile "$T/bad-profile.yaml"
bad_cmd profile "does-not-exist.yaml" "$T/does-not-exist.yaml"  # a missing job


# --- braid plan: a plan and its baseline as JSON; bad input exits 2 naming it.
CL=deploy/clusters/h100-256.yaml
run plan --job "$JOB" --cluster "$CL" --devices 16 --synthesize mixed --count 64 --json
[[ $RC -eq 0 ]] || fail "braid plan --json: exit code $RC"
/usr/bin/python3 - "$T/stdout" <<'PY' || fail "braid plan --json: bad output"
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("budget", "plan", "predicted", "baseline", "speedup", "solve_ms"):
    assert k in d, k
for m in ("encoder", "llm", "generator"):
    assert {"devices", "tp", "pp", "dp"} <= set(d["plan"][m]), m
assert d["plan"]["devices"] <= 16 and d["speedup"] >= 1 and d["predicted"]["step_seconds"] > 0
PY
ok "braid plan --json: a plan within 16 devices, its baseline and the speedup"
run plan --job "$JOB" --cluster "$CL" --devices 16 --count 64 --trace "$T/trace.json"
[[ $RC -eq 0 ]] || fail "braid plan --trace: exit code $RC"
grep -q "speedup" "$T/stdout" || fail "braid plan: no table"
grep -q '"traceEvents"' "$T/trace.json" || fail "braid plan --trace: no trace"
ok "braid plan prints a table and writes a trace"
run plan --job "$JOB" --cluster deploy/clusters/local-cpu.yaml --job-data --evaluate 3/2/1
[[ $RC -eq 0 ]] || fail "braid plan --evaluate: exit code $RC"
grep -q "predicted step" "$T/stdout" || fail "braid plan --evaluate: no prediction"
ok "braid plan --job-data --evaluate 3/2/1 predicts the runtime layout"
# runtime_overhead in the profile scales every compute cost: twice the
# overhead, a step at least 1.5x as long (compute dominates the tiny job).
predict() {  # PROFILE -> predicted step seconds of 1/1/1
  run plan --job "$JOB" --cluster deploy/clusters/local-cpu.yaml --job-data --evaluate 1/1/1 --profile "$1" --json
  [[ $RC -eq 0 ]] || fail "braid plan --profile $1: exit code $RC"
  /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["predicted"]["step_seconds"])' <"$T/stdout"
}
sed 's/^runtime_overhead: .*/runtime_overhead: 2/' "$T/profile.yaml" >"$T/profile2.yaml"
grep -q '^runtime_overhead: 2$' "$T/profile2.yaml" || fail "braid profile: no runtime_overhead line"
one="$(predict "$T/profile.yaml")" two="$(predict "$T/profile2.yaml")"
/usr/bin/python3 -c "import sys; sys.exit(0 if float('$two') >= 1.5 * float('$one') else 1)" ||
  fail "braid plan: runtime_overhead 2 predicted $two s against $one s"
ok "braid plan --profile applies the profile's runtime_overhead"
printf 'name: x\nnodes: 1\n' >"$T/bad-cluster.yaml"
bad_cmd plan "devices_per_node" --job "$JOB" --cluster "$T/bad-cluster.yaml"
bad_cmd plan "--devices" --job "$JOB" --cluster "$CL" --devices 100000
bad_cmd plan "--evaluate" --job "$JOB" --cluster "$CL" --evaluate 3/2
bad_cmd plan "--microbatches" --job "$JOB" --cluster "$CL" --count 64 --microbatches 7
bad_cmd plan "unknown" --job "$JOB" --cluster "$CL" --synthesize imagenet

run profile --machine --repeats 1 -o "$T/machine.yaml"
[[ $RC -eq 0 ]] || fail "braid profile --machine: exit code $RC"
run plan --job "$JOB" --cluster "$T/machine.yaml" --job-data --evaluate 1/1/1
[[ $RC -eq 0 ]] || fail "braid plan on the measured machine spec: exit code $RC"
ok "braid profile --machine writes a cluster spec braid plan reads"
bad_cmd profile "--machine" --machine "$JOB"  # --machine takes no job

echo "PASS: $CHECKS checks"
