// The page's connection log and the status strip's per-capability connection states.
const MAX_EVENTS = 60;

export function note(text) {
  const list = document.getElementById("events");
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  list.prepend(item);
  while (list.children.length > MAX_EVENTS) list.lastElementChild.remove();
}

// state: connecting | connected | lost | refused | idle | streaming | error
export function showState(name, state, text = state) {
  const el = document.getElementById(`state-${name}`);
  el.dataset.state = state;
  el.textContent = text;
}
