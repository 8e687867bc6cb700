/**
 * Main-area views that follow a stream: a container's logs, and pull/push/build progress.
 * Both render incrementally (append, never re-render the whole text) and stop their request
 * when the tab closes.
 */
import { Widget } from '@lumino/widgets';

import { DockyardClient, EngineError } from './api';
import {
  AnsiParser,
  FrameDecoder,
  JSONStreamParser,
  ProgressModel,
  humanSize,
  percent
} from './engine';

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (key === 'class') node.className = value;
    else node.setAttribute(key, value);
  }
  node.append(...children);
  return node;
}

/** A `<pre>` styled like notebook output, so rendermime's theme-aware ANSI classes apply. */
class AnsiOutput {
  readonly node = el('div', { class: 'jp-RenderedText jp-dockyard-output' });
  private pre = el('pre');
  private ansi = new AnsiParser();

  constructor() {
    this.node.dataset.mimeType = 'application/vnd.jupyter.stdout';
    this.node.append(this.pre);
  }

  append(text: string, stream: 'stdout' | 'stderr' = 'stdout'): void {
    const stick = this.node.scrollTop + this.node.clientHeight >= this.node.scrollHeight - 4;
    for (const seg of this.ansi.feed(text)) {
      const span = el('span', {}, seg.text);
      if (seg.classes.length) span.className = seg.classes.join(' ');
      if (seg.style) span.setAttribute('style', seg.style);
      if (stream === 'stderr') span.classList.add('jp-dockyard-stderr');
      this.pre.append(span);
    }
    if (stick) this.node.scrollTop = this.node.scrollHeight;
  }

  get text(): string {
    return this.pre.textContent ?? '';
  }
}

abstract class StreamView extends Widget {
  protected abort = new AbortController();
  protected statusLine = el('div', { class: 'jp-dockyard-streamStatus', role: 'status' });

  constructor(protected client: DockyardClient) {
    super();
    this.addClass('jp-dockyard-stream');
    this.node.tabIndex = 0;
  }

  protected setStatus(text: string, error = false): void {
    this.statusLine.textContent = text;
    this.statusLine.classList.toggle('jp-dockyard-error', error);
  }

  dispose(): void {
    this.abort.abort();
    super.dispose();
  }
}

/** `docker logs -f` in a tab: multiplexed frames unless the container has a TTY. */
export class LogView extends StreamView {
  output = new AnsiOutput();
  private retries = 0;

  constructor(
    client: DockyardClient,
    readonly containerId: string,
    name: string
  ) {
    super(client);
    this.id = `dockyard-logs-${containerId.slice(0, 12)}`;
    this.title.label = `Logs: ${name}`;
    this.title.closable = true;
    this.addClass('jp-dockyard-logs');
    this.node.setAttribute('aria-label', `Logs of container ${name}`);
    this.node.append(this.statusLine, this.output.node);
    void this.follow();
  }

  private async follow(): Promise<void> {
    this.setStatus('Following…');
    try {
      const info = await this.client.engine(`containers/${this.containerId}/json`);
      const decoder = info.Config?.Tty ? null : new FrameDecoder();
      const text = { stdout: new TextDecoder(), stderr: new TextDecoder() };
      const url = this.client.engineUrl(
        `containers/${this.containerId}/logs?follow=1&stdout=1&stderr=1&tail=2000`
      );
      await this.client.stream(url, { signal: this.abort.signal }, chunk => {
        const frames = decoder ? decoder.feed(chunk) : [{ stream: 'stdout' as const, data: chunk }];
        for (const f of frames) {
          this.output.append(text[f.stream].decode(f.data, { stream: true }), f.stream);
        }
      });
      this.setStatus('The container stopped: end of logs.');
    } catch (err) {
      if (this.abort.signal.aborted) return;
      if (isNetworkError(err) && this.retries++ < 5) {
        // the browser dropped the stream (e.g. a network change): read the logs again
        const fresh = new AnsiOutput();
        this.output.node.replaceWith(fresh.node);
        this.output = fresh;
        window.setTimeout(() => void this.follow(), 500);
        return;
      }
      this.setStatus((err as Error).message, true);
    }
  }
}

/** fetch's own failure (no HTTP answer at all), as opposed to an error from the daemon. */
export function isNetworkError(err: unknown): boolean {
  return err instanceof TypeError || (err instanceof EngineError && err.status === 0);
}

/** Pull, push or build: per-layer bars, status lines, build output, the outcome. */
export class ProgressView extends StreamView {
  readonly model = new ProgressModel();
  private layers = el('table', { class: 'jp-dockyard-layers' });
  private lines = el('ul', { class: 'jp-dockyard-lines' });
  private output = new AnsiOutput();
  private shown = 0;
  private pending = false;
  readonly done: Promise<ProgressModel>;

  constructor(client: DockyardClient, label: string, url: string, init: RequestInit) {
    super(client);
    this.id = `dockyard-progress-${Date.now()}`;
    this.title.label = label;
    this.title.closable = true;
    this.addClass('jp-dockyard-progress');
    this.node.setAttribute('aria-label', label);
    this.node.append(this.statusLine, this.layers, this.lines, this.output.node);
    this.done = this.run(url, init);
  }

  private async run(url: string, init: RequestInit): Promise<ProgressModel> {
    this.setStatus('Working…');
    const parser = new JSONStreamParser();
    const text = new TextDecoder();
    try {
      await this.client.stream(url, { ...init, signal: this.abort.signal }, chunk => {
        parser.feed(text.decode(chunk, { stream: true })).forEach(m => this.model.apply(m));
        this.schedule();
      });
      this.render();
      if (this.model.error) this.setStatus(`Error: ${this.model.error}`, true);
      else this.setStatus(this.model.imageId ? `Done: ${this.model.imageId}` : 'Done.');
    } catch (err) {
      this.model.error = (err as Error).message;
      this.setStatus(`Error: ${this.model.error}`, true);
    }
    return this.model;
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.render();
    });
  }

  private render(): void {
    this.layers.replaceChildren(
      ...[...this.model.layers.values()].map(layer => {
        const p = percent(layer);
        const bar = el('progress', { max: '100', 'aria-label': `layer ${layer.id}` });
        if (p !== null) bar.value = p;
        const bytes = layer.total ? `${humanSize(layer.current)}/${humanSize(layer.total)}` : '';
        return el('tr', {}, el('td', {}, layer.id), el('td', {}, layer.status), el('td', {}, bar),
          el('td', {}, bytes));
      })
    );
    for (const line of this.model.lines.slice(this.lines.childElementCount)) {
      this.lines.append(el('li', {}, line));
    }
    this.output.append(this.model.output.slice(this.shown));
    this.shown = this.model.output.length;
  }
}
