#!/bin/bash
# prove/verify cost per privacy mode: median of REPEAT (3) whole `zkinfer prove` commands
cd "$(dirname "$0")/.."
Z=target/release/zkinfer
median() { sort -g | awk '{a[NR]=$1} END {print (NR%2) ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2}'; }
for m in ${MODELS:-mlp_tiny mlp_digits mlp_wide cnn_bn cnn_gelu_ln attention_tiny}; do
  for mode in ${MODES:-"fixed:public" "private:public" "fixed:private" "fixed:hashed" "private:hashed"}; do
    w=${mode%%:*}; i=${mode##*:}
    d=target/bench/modes/$m-$w-$i; rm -rf $d
    $Z compile models/$m/network.onnx --calibration models/$m/calibration.json --weights $w --input $i -o $d > /dev/null
    $Z setup $d > /dev/null 2>&1
    : > $d/wall; : > $d/rss; : > $d/ver
    for r in $(seq ${REPEAT:-3}); do
      /usr/bin/time -f "%e %M" -o $d/t $Z prove $d --input models/$m/input.json -o $d/proof.json > /dev/null
      cut -d' ' -f1 $d/t >> $d/wall; cut -d' ' -f2 $d/t >> $d/rss
      $Z verify --commitment $d/commitment.json --vk $d/vk.bin --proof $d/proof.json 2>/dev/null | sed -n 's/.* in \([0-9.]*\) ms$/\1/p' >> $d/ver
    done
    k=$(python3 -c "import json;print(json.load(open('$d/settings.json'))['k'])")
    adv=$(python3 -c "import json;print(json.load(open('$d/settings.json'))['plan']['advice_columns'])")
    pb=$(python3 -c "import json;print(len(json.load(open('$d/proof.json'))['proof'])//2)")
    pk=$(( $(stat -c %s $d/pk.bin) / 1024 ))
    echo "$m $w $i k=$k adv=$adv prove=$(median < $d/wall)s rss=$(( $(sort -g $d/rss | tail -1) / 1024 ))MiB verify=$(median < $d/ver)ms proof=${pb}B pk=${pk}KiB"
  done
done
