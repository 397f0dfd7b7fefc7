# Latency percentile curves written by hermes-bench; in this directory run:
#   gnuplot latency.gp
set terminal png size 1280,800 noenhanced
set output 'latency.png'
set title 'Round trip of a 64-byte message between two processes (hermes-bench)'
set logscale x
set logscale y
set grid xtics ytics mytics
set xlabel 'percentile'
set ylabel 'round trip (microseconds)'
set format y '%g'
set xtics ('0%%' 1, '50%%' 2, '90%%' 10, '99%%' 100, '99.9%%' 1000, '99.99%%' 10000, '99.999%%' 100000, '99.9999%%' 1000000)
set key outside right top
plot \
  'latency.hgrm' index 0 using 4:1 with lines lw 2 dt 1 lc rgb '#e41a1c' title 'hermes spin', \
  'latency.hgrm' index 1 using 4:1 with lines lw 2 dt 1 lc rgb '#377eb8' title 'hermes block', \
  'latency.hgrm' index 2 using 4:1 with lines lw 2 dt 1 lc rgb '#4daf4a' title 'bare-ring spin', \
  'latency.hgrm' index 3 using 4:1 with lines lw 2 dt 1 lc rgb '#984ea3' title 'bare-ring block', \
  'latency.hgrm' index 4 using 4:1 with lines lw 2 dt 1 lc rgb '#ff7f00' title 'bare-ring futex', \
  'latency.hgrm' index 5 using 4:1 with lines lw 2 dt 2 lc rgb '#a65628' title 'pipe block', \
  'latency.hgrm' index 6 using 4:1 with lines lw 2 dt 2 lc rgb '#f781bf' title 'unix block', \
  'latency.hgrm' index 7 using 4:1 with lines lw 2 dt 2 lc rgb '#999999' title 'tcp block', \
  'latency.hgrm' index 8 using 4:1 with lines lw 2 dt 2 lc rgb '#1b9e77' title 'zmq-ipc block', \
  'latency.hgrm' index 9 using 4:1 with lines lw 2 dt 2 lc rgb '#d95f02' title 'zmq-tcp block', \
  'latency.hgrm' index 10 using 4:1 with lines lw 2 dt 2 lc rgb '#7570b3' title 'iceoryx spin', \
  'latency.hgrm' index 11 using 4:1 with lines lw 2 dt 2 lc rgb '#e7298a' title 'iceoryx block', \
  'latency.hgrm' index 12 using 4:1 with lines lw 2 dt 2 lc rgb '#66a61e' title 'nats block', \
  'latency.hgrm' index 13 using 4:1 with lines lw 2 dt 2 lc rgb '#e6ab02' title 'bridge block'
