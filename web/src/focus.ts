// Focus after an action: the control pressed may leave the page once its change is applied (a
// dispatched match, a withdrawn need, a deleted session, a swapped button), and focus then fell
// to <body>: a keyboard or screen reader user was sent back to the top of the page.

/** Where focus goes once the control that started an action has left the page. `hold` is called
 * as the action starts; `settle` after each render: when the control is gone (or focus fell to
 * <body>) focus moves to the first of the targets found. Focus moved on by the user meanwhile (to
 * another control, or a pointer press) cancels it. */
export class FocusReturn {
  private from: Element | null = null;
  private to: (() => HTMLElement | null | undefined)[] = [];

  hold(...to: (() => HTMLElement | null | undefined)[]): void {
    this.from = document.activeElement;
    this.to = to;
  }

  settle(): void {
    if (this.to.length === 0) return;
    const now = document.activeElement;
    if (this.from?.isConnected && now !== null && now !== document.body) return;
    const targets = this.to;
    this.cancel();
    for (const f of targets) {
      const el = f();
      if (el?.isConnected) {
        el.focus();
        return;
      }
    }
  }

  cancel(): void {
    this.from = null;
    this.to = [];
  }

  /** Listeners for the document: focus moved elsewhere, or a press anywhere, cancels it. */
  readonly onFocusIn = (e: FocusEvent): void => {
    if (e.target !== this.from) this.cancel();
  };
  readonly onPointerDown = (): void => this.cancel();

  /** Listens on the document; the function returned stops it. */
  listen(): () => void {
    document.addEventListener('focusin', this.onFocusIn);
    document.addEventListener('pointerdown', this.onPointerDown, true);
    return () => {
      document.removeEventListener('focusin', this.onFocusIn);
      document.removeEventListener('pointerdown', this.onPointerDown, true);
    };
  }
}

/** The element `selector` finds (an attribute value is quoted with `CSS.escape` by the caller). */
export const find = (selector: string) => (): HTMLElement | null => document.querySelector<HTMLElement>(selector);

/** A heading (or other element) that takes focus by script only. */
export function focusOn(id: string): void {
  document.getElementById(id)?.focus();
}

/** The first control of the list items beside the one `el` is in: the next, else the one before
 * (where focus goes when `el`'s row leaves the list). */
export function beside(el: Element | null): (() => HTMLElement | null | undefined)[] {
  const li = el?.closest('li');
  const first = (x: Element | null | undefined) => () => x?.querySelector<HTMLElement>('button:not([aria-disabled=true])');
  return [first(li?.nextElementSibling), first(li?.previousElementSibling)];
}
