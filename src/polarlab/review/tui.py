"""The terminal fallback of the review app: plain prompts over the same store (no browser needed)."""
from __future__ import annotations

from typing import Callable

from ..errors import InputError
from .store import Conflict, ReviewStore, stop_message

HELP = "number = label, s = skip, u = undo, ? = help, q = quit"
HELP_OTHER = "number = choice, o = other id (then type it), s = skip, u = undo, ? = help, q = quit"


def choices(item: dict, labels: list[str]) -> list[str]:
    """The item's answers: its own ``choices`` (a mention's candidate entities) when it has them, else ``labels``."""
    return [str(c["label"]) for c in item["choices"]] if item.get("choices") else labels


def describe(item: dict, labels: list[str]) -> str:
    """The item as terminal text."""
    labels = choices(item, labels)
    lines = [f"── item {item['id']} ({'random check' if item.get('kind') == 'audit' else 'risky'}) ──",
             item.get("text", ""), labels_line(item, labels)]
    if item.get("mention"):
        lines.insert(2, f"mention: {item['mention']}")
    if item.get("llm"):
        llm = item["llm"]
        risk = "?" if llm.get("risk") is None else f"{llm['risk']:.2f}"
        lines.append(f"LLM {llm['name']}: {llm['answer']} (risk {risk})")
    for r in item.get("rules", []):
        explain = f" — {r['explain']}" if r.get("explain") else ""
        lines.append(f"  {item.get('rule_kind', 'rule')} {r['name']}: {r['label']}{explain}")
    for c in item.get("corrections", []):
        lines.append(f"  correction: {c}")
    other = " o=other id" if item.get("other") else ""
    lines.append("  ".join(f"{i + 1}={name}" for i, name in enumerate(labels)) + f"  {other} s=skip u=undo ?=help "
                 "q=quit")
    return "\n".join(lines)


def labels_line(item: dict, labels: list[str]) -> str:
    """The project's final label (its labels file) and probability, then the review model's (h(x), which orders
    the queue and is refitted on the answers): the two may differ."""
    def name(i: int) -> str:
        return labels[i] if 0 <= i < len(labels) else str(i)

    review = (f"review model: {name(item['label'])} {item.get('probability', 1 - item['risk']):.2f} "
              f"(risk {item['risk']:.2f})")
    f = item.get("labels_file")
    return review if not f else f"labels file: {name(f['label'])} {f['probability']:.3f} · {review}"


def run_tui(store: ReviewStore, reviewer: str, read: Callable[[str], str] = input,
            write: Callable[[str], None] = print, on_answer: Callable[[ReviewStore], None] | None = None,
            lookup: Callable[[str], dict] | None = None) -> int:
    """Review until the queue is empty, the stopping rule says stop (the estimate's lower bound reached the target,
    or the budget is spent) or the reviewer quits (q or end of input); returns answers stored.
    ``on_answer(store)`` runs after each stored answer (a session's refit every batch). ``lookup``: typed answers
    (``o``, then an id: a linking item's any ontology id; see :func:`polarlab.review.app.create_app`)."""
    labels = store.meta().get("labels", [])
    stored = 0
    s = store.status()
    while True:
        if s["stop"] is not None:           # the stopping rule: target reached or budget spent
            write(stop_message(s["stop"], s))
            return stored
        item = store.next_item(reviewer)
        if item is None:
            write("Nothing left to review.")
            return stored
        write(describe(item, labels))
        while True:
            try:
                key = read("> ").strip().lower()
            except EOFError:
                return stored
            if key == "q":
                return stored
            if key == "?":
                write(HELP_OTHER if item.get("other") and lookup is not None else HELP)
                continue
            if key == "u":
                write("nothing to undo" if store.undo(reviewer) is None else "undone")
                break
            choice = None
            if key == "o":
                if lookup is None or not item.get("other"):
                    write("this item takes no typed ids")
                    continue
                try:
                    choice = lookup(read(f"{item['other']}: "))
                except EOFError:
                    return stored
                except InputError as e:
                    write(f"not saved: {e}")
                    continue
            if key in ("s", "o") or (key.isdigit() and 1 <= int(key) <= len(choices(item, labels))):
                try:
                    store.answer(reviewer, item["row"], None if key in ("s", "o") else int(key) - 1, choice=choice)
                    stored += key != "s"
                    if on_answer is not None:
                        on_answer(store)
                except Conflict as e:
                    write(f"not saved: {e}")
                break
            write(f"? {HELP}")
        s = store.status()
        e = s["estimate"]
        write(f"{s['reviewed']} reviewed, {s['accepted']} accepted, {s['remaining']} remaining; estimated accuracy "
              f"{e['accuracy']:.3f} [{e['lower']:.3f}, {e['upper']:.3f}]; budget left {s['budget_left']}")
