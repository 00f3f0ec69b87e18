# Sourced by the load benchmarks: a process's CPU ticks (user + system, /proc/PID/stat), the
# ticks per second, and the median of a space-separated list of numbers.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
TICK=$(getconf CLK_TCK)
median() { tr ' ' '\n' <<<"$1" | grep -v '^$' | sort -g | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
