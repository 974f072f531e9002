#!/bin/bash
# Prove/verify cost per privacy mode: the whole `zkinfer prove` command, median of REPEAT
# (default 3), the modes of one model interleaved run by run (so machine drift hits them
# alike). From the project root:
#   MODELS="mlp_tiny cnn_bn" MODES="fixed:public:public fixed:hashed:public" REPEAT=5 benches/modes.sh
# A mode is weights:input:output (weights fixed|private, input public|private|hashed,
# output public|hashed).
cd "$(dirname "$0")/.."
Z=target/release/zkinfer
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
MODES=${MODES:-"fixed:public:public private:public:public fixed:private:public fixed:hashed:public fixed:private:hashed private:hashed:hashed"}
for m in ${MODELS:-mlp_tiny mlp_digits mlp_wide cnn_bn cnn_gelu_ln attention_tiny}; do
  for mode in $MODES; do
    IFS=: read -r w i o <<< "$mode"
    d=target/bench/modes/$m-$w-$i-$o; rm -rf $d
    $Z compile models/$m/network.onnx --calibration models/$m/calibration.json --weights $w --input $i --output-visibility $o -o $d > /dev/null
    $Z setup $d --insecure-dev-srs > /dev/null 2>&1
    : > $d/wall; : > $d/rss; : > $d/ver
  done
  for r in $(seq ${REPEAT:-3}); do
    for mode in $MODES; do
      IFS=: read -r w i o <<< "$mode"
      d=target/bench/modes/$m-$w-$i-$o
      /usr/bin/time -f "%e %M" -o $d/t $Z prove $d --input models/$m/input.json -o $d/proof.json > /dev/null
      cut -d' ' -f1 $d/t >> $d/wall; cut -d' ' -f2 $d/t >> $d/rss
      $Z verify --commitment $d/commitment.json --vk $d/vk.bin --proof $d/proof.json 2>/dev/null | sed -n 's/.* in \([0-9.]*\) ms$/\1/p' >> $d/ver
    done
  done
  for mode in $MODES; do
    IFS=: read -r w i o <<< "$mode"
    d=target/bench/modes/$m-$w-$i-$o
    k=$(python3 -c "import json;print(json.load(open('$d/settings.json'))['k'])")
    adv=$(python3 -c "import json;print(json.load(open('$d/settings.json'))['plan']['advice_columns'])")
    pb=$(python3 -c "import json;print(len(json.load(open('$d/proof.json'))['proof'])//2)")
    pk=$(( $(stat -c %s $d/pk.bin) / 1024 ))
    echo "$m weights=$w input=$i output=$o k=$k adv=$adv prove=$(median < $d/wall)s rss=$(( $(sort -g $d/rss | tail -1) / 1024 ))MiB verify=$(median < $d/ver)ms proof=${pb}B pk=${pk}KiB"
  done
done
