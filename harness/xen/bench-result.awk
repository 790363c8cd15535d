# Reads a scenario-bench boot log and prints its RESULT lines (scripts/nested-xen-test.sh
# --bench). Rates are what the guest measured (harness/xen/domU-bench):
#   sending    pktgen's own pps for that frame size;
#   receiving  the median of eth0's per-second rx_packets rate, over the seconds a
#              sender ran (rates above a tenth of the best; the first and last of
#              them, partial seconds, left out).
# Guests: gvpmd (grant copy), gvpmd-map (copy-threshold=1024), gnetback.

function kv(k,   m) {
  if (match($0, " " k "=[^ ]*")) { m = substr($0, RSTART + length(k) + 2, RLENGTH - length(k) - 2); return m }
  return ""
}
function guest(   s) {
  if (!match($0, /DOMU-[a-z-]+\|/)) return ""
  s = substr($0, RSTART + 5, RLENGTH - 6)
  return s
}
function median(a, n,   i, j, t) {
  for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
# rx_rate(G): guest G's receive rate in pps, 0 if it received nothing.
function rx_rate(g,   i, best, k, sel, m, out) {
  best = 0
  for (i = 1; i <= cnt[g]; i++) if (rate[g, i] > best) best = rate[g, i]
  k = 0
  for (i = 1; i <= cnt[g]; i++) if (rate[g, i] > best / 10) sel[++k] = rate[g, i]
  if (k == 0) return 0
  if (k > 2) { for (i = 1; i <= k - 2; i++) out[i] = sel[i + 1]; return median(out, k - 2) }
  return median(sel, k)
}
function mpps(p) { return sprintf("%.4f", p / 1e6) }
function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "n/a" }
function result(name, ours, anchor, extra) {
  printf "RESULT %s ours=%s anchor=%s unit=Mpps ratio=%s%s\n", name, mpps(ours), mpps(anchor), ratio(ours, anchor), extra
}

/DOMU-MARK PKTGEN / { pps[guest() "," kv("size")] = kv("pps") + 0 }
/DOMU-MARK RXCOUNT / {
  g = guest(); n = kv("n") + 0; up = kv("up") + 0
  if (g in last_n && up > last_up[g] && n > last_n[g]) rate[g, ++cnt[g]] = (n - last_n[g]) / (up - last_up[g])
  last_n[g] = n; last_up[g] = up
}

END {
  tx = pps["gvpmd,60"]; tx_nb = pps["gnetback,60"]
  rx = rx_rate("gvpmd"); rx_nb = rx_rate("gnetback")
  print "xen-dom0 bench (nested Xen under QEMU TCG: absolute rates are emulation's, the ratios are what count)"
  printf "  %-34s %12s %12s\n", "64-byte frames, pps", "vpmd", "xen-netback"
  printf "  %-34s %12d %12d\n", "guest sends (pktgen in the guest)", tx, tx_nb
  printf "  %-34s %12d %12d\n", "guest receives (eth0 rx_packets)", rx, rx_nb
  printf "  %-34s %12d %12d\n", "1400-byte guest sends: copy / map", pps["gvpmd,1400"], pps["gvpmd-map,1400"]
  result("xen-dom0-guest-tx", tx, tx_nb, "")
  result("xen-dom0-guest-rx", rx, rx_nb, "")
  result("xen-dom0", tx + rx, tx_nb + rx_nb, " (both directions, each measured alone)")
  result("xen-dom0-map-1400", pps["gvpmd-map,1400"], pps["gvpmd,1400"], " (anchor: grant copy)")
  if (!(tx > 0 && tx_nb > 0 && rx > 0 && rx_nb > 0)) exit 1
}
