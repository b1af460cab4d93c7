/**
 * A small element builder. Text goes in through `textContent` and attributes through
 * `setAttribute`, never through HTML parsing: file names, contents and server messages are
 * untrusted. Event listeners are added with addEventListener (the CSP forbids inline handlers).
 */
type Child = Node | string | null | undefined | false;

interface Props {
  class?: string;
  text?: string;
  attrs?: Record<string, string | number | boolean | undefined>;
  on?: { [K in keyof HTMLElementEventMap]?: (event: HTMLElementEventMap[K]) => void };
}

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  if (props.class) el.className = props.class;
  if (props.text !== undefined) el.textContent = props.text;
  for (const [name, value] of Object.entries(props.attrs ?? {})) {
    if (value === undefined || value === false) continue;
    el.setAttribute(name, value === true ? '' : String(value));
  }
  for (const [type, listener] of Object.entries(props.on ?? {})) {
    el.addEventListener(type, listener as EventListener);
  }
  append(el, ...children);
  return el;
}

export function append(parent: Node, ...children: Child[]): void {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    parent.appendChild(typeof child === 'string' ? document.createTextNode(child) : child);
  }
}

/** Replaces every child of `parent`. */
export function replaceChildren(parent: Element, ...children: Child[]): void {
  parent.replaceChildren();
  append(parent, ...children);
}

const SVG = 'http://www.w3.org/2000/svg';

/** An SVG element with attributes (set with setAttribute, like `h`'s). */
function svg<K extends keyof SVGElementTagNameMap>(
  tag: K,
  attrs: Record<string, string>,
  ...children: SVGElement[]
): SVGElementTagNameMap[K] {
  const el = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attrs)) el.setAttribute(name, value);
  el.append(...children);
  return el;
}

/** A padlock icon, decorative (the accessible text sits beside it). */
export function lockIcon(): SVGSVGElement {
  return svg(
    'svg',
    {
      viewBox: '0 0 16 16',
      width: '12',
      height: '12',
      'aria-hidden': 'true',
      class: 'lock',
      focusable: 'false',
    },
    svg('path', {
      d: 'M5 7V5a3 3 0 0 1 6 0v2',
      fill: 'none',
      stroke: 'currentColor',
      'stroke-width': '1.6',
    }),
    svg('rect', { x: '3', y: '7', width: '10', height: '8', rx: '1.5', fill: 'currentColor' }),
  );
}

/** Text for screen readers only. */
export function srOnly(text: string): HTMLSpanElement {
  return h('span', { class: 'sr-only', text });
}
