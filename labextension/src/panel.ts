/**
 * The "Containers" sidebar: daemon state, then Images, Containers and Registries. Lists are
 * re-read when the daemon's `/events` stream says something changed; when that stream is not
 * available the panel says so and refreshes slowly instead. Every action reports its error
 * inline, on the row it came from.
 */
import { Dialog, showDialog } from '@jupyterlab/apputils';
import { Widget } from '@lumino/widgets';

import { DaemonStatus, DockyardClient, EngineError } from './api';
import {
  ContainerRow,
  ImageRow,
  JSONStreamParser,
  RegistryRow,
  containerRows,
  daemonView,
  eventTopic,
  historyRows,
  imageRows,
  registryRows
} from './engine';
import { el, isNetworkError } from './views';

export const SLOW_REFRESH_MS = 10000;

export interface PanelActions {
  run(row: ImageRow): Promise<void>;
  tag(row: ImageRow): Promise<void>;
  push(row: ImageRow): Promise<void>;
  pull(ref?: string, prefill?: string): Promise<void>;
  logs(row: ContainerRow): void;
  openPort(row: ContainerRow, port: number): void;
}

type Section = 'images' | 'containers' | 'registries';

export class DockyardPanel extends Widget {
  private banner = el('div', { class: 'jp-dockyard-banner', role: 'status' });
  private liveNote = el('div', { class: 'jp-dockyard-live', role: 'status' });
  private bodies: Record<Section, HTMLElement> = {
    images: el('ul', { class: 'jp-dockyard-list', 'aria-label': 'Images' }),
    containers: el('ul', { class: 'jp-dockyard-list', 'aria-label': 'Containers' }),
    registries: el('ul', { class: 'jp-dockyard-list', 'aria-label': 'Registries' })
  };
  private expanded = new Set<string>();
  private errors = new Map<string, string>();
  private events: AbortController | null = null;
  private slowTimer = 0;
  private retryTimer = 0;
  private pendingTopics = new Set<string>();
  private eventRetries = 0;
  private failures: Record<Section, number> = { images: 0, containers: 0, registries: 0 };
  status: DaemonStatus | null = null;

  constructor(
    readonly client: DockyardClient,
    private actions: PanelActions
  ) {
    super();
    this.id = 'dockyard-panel';
    this.addClass('jp-dockyard-panel');
    this.title.caption = 'Containers';
    const refresh = button('Refresh', 'Refresh images, containers and registries', () =>
      this.refresh()
    );
    this.node.append(
      el('header', { class: 'jp-dockyard-header' }, el('h2', {}, 'Containers'), refresh),
      this.banner,
      this.liveNote,
      this.section('images', 'Images', button('Pull…', 'Pull an image', () => actions.pull())),
      this.section('containers', 'Containers'),
      this.section('registries', 'Registries')
    );
    void this.refresh();
  }

  private section(key: Section, label: string, ...tools: HTMLElement[]): HTMLElement {
    const toggle = el('button', { class: 'jp-dockyard-sectionToggle', 'aria-expanded': 'true' },
      label);
    const body = this.bodies[key];
    toggle.addEventListener('click', () => {
      const open = toggle.getAttribute('aria-expanded') !== 'true';
      toggle.setAttribute('aria-expanded', String(open));
      body.hidden = !open;
    });
    return el('section', { class: `jp-dockyard-section jp-dockyard-${key}`, 'aria-label': label },
      el('h3', {}, toggle, ...tools), body);
  }

  /** Re-read status and all lists; on success make sure live updates are running. */
  async refresh(): Promise<void> {
    window.clearTimeout(this.retryTimer);
    try {
      this.status = await this.client.status();
    } catch (err) {
      this.status = { host: '?', reachable: false, error: (err as Error).message };
    }
    if (!this.status.reachable) {
      this.showUnreachable(this.status);
      return;
    }
    this.banner.replaceChildren();
    this.node.dataset.state = 'ready';
    await Promise.all([this.refreshImages(), this.refreshContainers(), this.refreshRegistries()]);
    if (!this.events) void this.followEvents();
  }

  private showUnreachable(status: DaemonStatus): void {
    const view = daemonView(status);
    const starting = view.state === 'starting';
    this.node.dataset.state = view.state;
    const retry = button('Retry', 'Try to reach the daemon again', () => this.refresh());
    this.banner.replaceChildren(
      el('p', starting ? {} : { class: 'jp-dockyard-error' }, view.message), retry);
    for (const body of Object.values(this.bodies)) body.replaceChildren();
    this.stopEvents();
    this.retryTimer = window.setTimeout(() => this.refresh(), starting ? 1000 : SLOW_REFRESH_MS);
  }

  async refreshImages(): Promise<void> {
    await this.load('images', 'images/json', data => {
      const rows = imageRows(data);
      return rows.length ? rows.map(r => this.imageItem(r))
        : [empty('No images yet. Pull one, or build a Dockerfile from the file browser.')];
    });
  }

  async refreshContainers(): Promise<void> {
    await this.load('containers', 'containers/json?all=1', data => {
      const rows = containerRows(data);
      return rows.length ? rows.map(r => this.containerItem(r))
        : [empty('No containers. Run an image to start one.')];
    });
  }

  async refreshRegistries(): Promise<void> {
    try {
      const data = await this.client.registries();
      const rows = registryRows(data.registries, data.logins);
      this.bodies.registries.replaceChildren(...(rows.length ? rows.map(r => this.registryItem(r))
        : [empty('No registries configured.')]));
      this.failures.registries = 0;
    } catch (err) {
      this.failed('registries', err as Error);
    }
  }

  /** A registry the daemon knows; a host (not a CIDR range) is also a pull target. */
  private registryItem(r: RegistryRow): HTMLElement {
    const tls = r.secure === null ? '' : r.secure ? 'TLS' : 'insecure';
    const meta = [r.official ? 'official' : '', tls,
      r.mirrors.length ? `mirrors: ${r.mirrors.join(', ')}` : '',
      r.loggedIn ? `logged in${r.username ? ` as ${r.username}` : ''}` : 'not logged in'];
    const item = el('li', { class: 'jp-dockyard-item', 'data-registry': r.name },
      el('div', { class: 'jp-dockyard-title' }, r.name),
      el('div', { class: 'jp-dockyard-meta' }, meta.filter(Boolean).join(' · ')));
    if (!r.name.includes('/')) {
      const prefix = r.official ? '' : `${r.name.replace(/^https?:\/\//, '')}/`;
      item.append(el('div', { class: 'jp-dockyard-actions' },
        button('Pull from…', `Pull an image from ${r.name}`, () => this.actions.pull(undefined,
          prefix))));
    }
    return item;
  }

  private async load(key: Section, path: string, render: (data: any) => HTMLElement[]) {
    try {
      this.bodies[key].replaceChildren(...render(await this.client.engine(path)));
      this.failures[key] = 0;
    } catch (err) {
      this.failed(key, err as Error);
    }
  }

  /** Show the error; a request that never reached the server (status 0) is tried again a
   * few times, since no event would ever repair the list. */
  private failed(key: Section, err: Error): void {
    this.bodies[key].replaceChildren(errorLine(err.message));
    if (!isNetworkError(err) || this.failures[key] >= 5) return;
    const delay = 1000 * ++this.failures[key];
    const reload = { images: () => this.refreshImages(), containers: () => this.refreshContainers(),
      registries: () => this.refreshRegistries() }[key];
    window.setTimeout(() => void reload(), delay);
  }

  private imageItem(row: ImageRow): HTMLElement {
    const key = `image:${row.ref}`;
    const title = row.tag === '<none>' ? `${row.repository} (${row.shortId})`
      : `${row.repository}:${row.tag}`;
    const item = el('li', { class: 'jp-dockyard-item', 'data-ref': row.ref },
      el('div', { class: 'jp-dockyard-title' }, title),
      el('div', { class: 'jp-dockyard-meta' }, `${row.shortId} · ${row.size} · ${row.created}`));
    const history = el('div', { class: 'jp-dockyard-history' });
    const toggle = button('History', `Show the layers of ${title}`, () =>
      this.toggleHistory(key, row, toggle, history));
    toggle.setAttribute('aria-expanded', 'false');
    item.append(el('div', { class: 'jp-dockyard-actions' },
      this.act(key, 'Run', `Run ${title}`, () => this.actions.run(row)),
      this.act(key, 'Tag', `Tag ${title}`, () => this.actions.tag(row)),
      this.act(key, 'Push', `Push ${title}`, () => this.actions.push(row)),
      this.act(key, 'Pull', `Pull ${title} again`, () => this.actions.pull(row.ref)),
      this.act(key, 'Remove', `Remove ${title}`, () => this.removeImage(row, title)),
      toggle), history, this.errorSlot(key));
    if (this.expanded.has(key)) void this.toggleHistory(key, row, toggle, history, true);
    return item;
  }

  private async toggleHistory(key: string, row: ImageRow, toggle: HTMLElement,
    target: HTMLElement, keep = false): Promise<void> {
    const open = keep || toggle.getAttribute('aria-expanded') !== 'true';
    toggle.setAttribute('aria-expanded', String(open));
    if (!open) {
      this.expanded.delete(key);
      target.replaceChildren();
      return;
    }
    this.expanded.add(key);
    try {
      const rows = historyRows(await this.client.engine(`images/${row.id}/history`));
      target.replaceChildren(el('table', { 'aria-label': 'Image history' }, ...rows.map(h =>
        el('tr', {}, el('td', {}, h.id), el('td', { title: h.createdBy }, h.createdBy),
          el('td', {}, h.size), el('td', {}, h.created)))));
    } catch (err) {
      target.replaceChildren(errorLine((err as Error).message));
    }
  }

  private containerItem(row: ContainerRow): HTMLElement {
    const key = `container:${row.id}`;
    const id = row.id;
    const ports = row.webPorts.map(p => button(`Open ${p}`,
      `Open port ${p} of ${row.name} in a new browser tab`, () => this.actions.openPort(row, p)));
    return el('li', { class: 'jp-dockyard-item', 'data-name': row.name },
      el('div', { class: 'jp-dockyard-title' },
        el('span', { class: `jp-dockyard-dot jp-dockyard-${row.state}`, 'aria-hidden': 'true' }),
        row.name),
      el('div', { class: 'jp-dockyard-meta' },
        [row.image, row.status, row.ports].filter(Boolean).join(' · ')),
      el('div', { class: 'jp-dockyard-actions' },
        row.running
          ? this.act(key, 'Stop', `Stop ${row.name}`, () => this.post(`containers/${id}/stop`))
          : this.act(key, 'Start', `Start ${row.name}`, () => this.post(`containers/${id}/start`)),
        this.act(key, 'Restart', `Restart ${row.name}`,
          () => this.post(`containers/${id}/restart`)),
        button('Logs', `Show the logs of ${row.name}`, () => this.actions.logs(row)),
        this.act(key, 'Remove', `Remove ${row.name}`, () => this.removeContainer(row)),
        ...ports),
      this.errorSlot(key));
  }

  private async post(path: string): Promise<void> {
    await this.client.engine(path, { method: 'POST' });
    await this.refreshContainers();
  }

  private async removeImage(row: ImageRow, title: string): Promise<void> {
    if (!(await confirm(`Remove image ${title}?`, 'Remove'))) return;
    await this.client.engine(`images/${encodeURIComponent(row.ref)}`, { method: 'DELETE' });
    await this.refreshImages();
  }

  private async removeContainer(row: ContainerRow): Promise<void> {
    const what = row.running ? `Stop and remove the running container ${row.name}?`
      : `Remove container ${row.name}?`;
    if (!(await confirm(what, 'Remove'))) return;
    await this.client.engine(`containers/${row.id}?force=1`, { method: 'DELETE' });
    await this.refreshContainers();
  }

  /** A button whose action's error is shown under the row (kept across a re-render). */
  private act(key: string, label: string, aria: string, fn: () => Promise<void>): HTMLElement {
    return button(label, aria, async (b: HTMLButtonElement) => {
      b.disabled = true;
      this.setError(key, null);
      try {
        await fn();
      } catch (err) {
        this.setError(key, (err as Error).message);
      } finally {
        b.disabled = false;
      }
    });
  }

  setError(key: string, message: string | null): void {
    if (message) this.errors.set(key, message);
    else this.errors.delete(key);
    this.node.querySelectorAll(`[data-error-for="${CSS.escape(key)}"]`).forEach(n => {
      n.textContent = message ?? '';
    });
  }

  private errorSlot(key: string): HTMLElement {
    return el('div', { class: 'jp-dockyard-error', role: 'alert', 'data-error-for': key },
      this.errors.get(key) ?? '');
  }

  /** Follow `/events`; if the daemon has none (or it drops), refresh every 10 s instead. */
  private async followEvents(): Promise<void> {
    const abort = (this.events = new AbortController());
    const parser = new JSONStreamParser();
    const text = new TextDecoder();
    const filters = encodeURIComponent(JSON.stringify({ type: ['image', 'container'] }));
    let reason = 'the event stream ended';
    let network = false;
    try {
      await this.client.stream(this.client.url(`events?filters=${filters}`),
        { signal: abort.signal }, chunk => {
          for (const event of parser.feed(text.decode(chunk, { stream: true }))) {
            this.onEvent(eventTopic(event));
          }
        }, () => this.setLive(true));
    } catch (err) {
      reason = err instanceof EngineError ? err.message : String(err);
      network = isNetworkError(err);
    }
    if (abort.signal.aborted || this.isDisposed) return;
    this.events = null;
    if (network && this.eventRetries < 5) {
      // the browser dropped the connection (e.g. a network change): catch up and reconnect
      this.eventRetries++;
      this.slowTimer = window.setTimeout(() => this.refresh(), 1000);
      return;
    }
    this.setLive(false, reason);
  }

  private setLive(live: boolean, reason = ''): void {
    this.node.dataset.live = String(live);
    window.clearTimeout(this.slowTimer);
    if (live) {
      this.eventRetries = 0;
      this.liveNote.textContent = '';
      return;
    }
    this.liveNote.textContent =
      `Live updates unavailable (${reason}): refreshing every ${SLOW_REFRESH_MS / 1000} s.`;
    this.slowTimer = window.setTimeout(() => this.refresh(), SLOW_REFRESH_MS);
  }

  private onEvent(topic: 'images' | 'containers' | null): void {
    if (!topic) return;
    if (this.pendingTopics.size === 0) {
      window.setTimeout(() => {
        const topics = [...this.pendingTopics];
        this.pendingTopics.clear();
        if (topics.includes('images')) void this.refreshImages();
        if (topics.includes('containers')) void this.refreshContainers();
      }, 250);
    }
    this.pendingTopics.add(topic);
  }

  private stopEvents(): void {
    this.events?.abort();
    this.events = null;
    window.clearTimeout(this.slowTimer);
  }

  dispose(): void {
    this.stopEvents();
    window.clearTimeout(this.retryTimer);
    super.dispose();
  }
}

export function button(label: string, aria: string,
  onClick: (b: HTMLButtonElement) => unknown): HTMLButtonElement {
  const b = el('button', { class: 'jp-dockyard-button', type: 'button', 'aria-label': aria,
    title: aria }, label);
  b.addEventListener('click', () => void onClick(b));
  return b;
}

function empty(text: string): HTMLElement {
  return el('li', { class: 'jp-dockyard-empty' }, text);
}

function errorLine(text: string): HTMLElement {
  return el('li', { class: 'jp-dockyard-error', role: 'alert' }, text);
}

async function confirm(question: string, accept: string): Promise<boolean> {
  const result = await showDialog({ title: question, buttons: [Dialog.cancelButton(),
    Dialog.warnButton({ label: accept })] });
  return result.button.accept;
}
