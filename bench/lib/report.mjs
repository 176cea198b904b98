/** Medians and the markdown tables the runner prints. */
export const median = (xs) => {
  if (xs.length === 0) return NaN
  const s = [...xs].sort((a, b) => a - b)
  const mid = Math.floor(s.length / 2)
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

export const fmt = {
  rps: (x) => (Number.isFinite(x) ? Math.round(x).toLocaleString("en-US") : "–"),
  ms: (x) => (Number.isFinite(x) ? (x < 10 ? x.toFixed(1) : Math.round(x).toString()) : "–"),
  mb: (bytes) => (bytes > 0 ? `${Math.round(bytes / 1024 / 1024)}` : "–"),
  ratio: (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "–")
}

export const table = (header, rows) =>
  [
    `| ${header.join(" | ")} |`,
    `| ${header.map((_, i) => (i === 0 || i === 1 ? "---" : "---:")).join(" | ")} |`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")
