// The verification chart and the speech/silence strip, drawn on canvases (the page also lists the
// values as text for screen readers).
const OK = "#116329";
const LOW = "#a4141b";
const GRID = "#8a94a3";

export function drawProbabilities(canvas, values, shown = 60) {
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const recent = values.slice(-shown);
  g.clearRect(0, 0, w, h);
  g.strokeStyle = GRID;
  g.setLineDash([4, 4]);
  g.beginPath();
  g.moveTo(0, h / 2);
  g.lineTo(w, h / 2);
  g.stroke();
  g.setLineDash([]);
  const x = (i) => (recent.length < 2 ? w / 2 : (i * (w - 10)) / (recent.length - 1) + 5);
  const y = (p) => h - 5 - p * (h - 10);
  g.strokeStyle = "#0b5cad";
  g.beginPath();
  recent.forEach((p, i) => (i ? g.lineTo(x(i), y(p)) : g.moveTo(x(i), y(p))));
  g.stroke();
  recent.forEach((p, i) => {
    g.fillStyle = p >= 0.5 ? OK : LOW;
    g.fillRect(x(i) - 3, y(p) - 3, 6, 6);
  });
  const last = recent[recent.length - 1];
  canvas.setAttribute(
    "aria-label",
    `Verification probability over time: ${recent.length} results, the latest ${(last * 100).toFixed(0)}%`,
  );
}

export function drawStrip(canvas, frames, shown = 240) {
  const g = canvas.getContext("2d");
  const { width: w, height: h } = canvas;
  const recent = frames.slice(-shown);
  const cell = w / shown;
  g.clearRect(0, 0, w, h);
  recent.forEach((speech, i) => {
    g.fillStyle = speech ? OK : "#d5dae1";
    g.fillRect(i * cell, 0, Math.max(1, cell - 0.5), h);
  });
  const speech = recent.filter(Boolean).length;
  canvas.setAttribute("aria-label", `Speech and silence: ${speech} of the last ${recent.length} frames are speech`);
}
