/**
 * dockyard's JupyterLab plugin: the "Containers" sidebar, its commands (palette and file
 * browser context menu) and the main-area views they open. All daemon access goes through the
 * server extension's `/dockyard/` routes (see api.ts). Open notebooks get their
 * reproducibility record in `metadata.dockyard` (notebooks.ts).
 */
import {
  ILayoutRestorer,
  JupyterFrontEnd,
  JupyterFrontEndPlugin
} from '@jupyterlab/application';
import {
  Dialog,
  ICommandPalette,
  InputDialog,
  MainAreaWidget,
  Notification,
  showDialog
} from '@jupyterlab/apputils';
import { PageConfig } from '@jupyterlab/coreutils';
import { IFileBrowserFactory } from '@jupyterlab/filebrowser';
import { INotebookTracker } from '@jupyterlab/notebook';
import { LabIcon } from '@jupyterlab/ui-components';
import { Widget } from '@lumino/widgets';

import { DockyardClient, post } from './api';
import { ANONYMOUS_AUTH, ContainerRow, ImageRow, parseReference, runFileSpec } from './engine';
import { NotebookRecords } from './notebooks';
import { DockyardPanel } from './panel';
import { LogView, ProgressView, el } from './views';

const ICON = new LabIcon({
  name: 'dockyard:containers',
  svgstr:
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24" width="16"><g class="jp-icon3"' +
    ' fill="#616161"><path d="M2 13h20l-2 6H4z"/><path d="M5 8h3v4H5zM9 8h3v4H9zM13 8h3v4h-3z' +
    'M9 4h3v3H9z"/></g></svg>'
});

const FILE_ITEM = '.jp-DirListing-item[data-isdir="false"]';

/** The run dialog's body: what `docker run -d` would take from its flags. */
class RunForm extends Widget {
  private inputs: Record<string, HTMLInputElement> = {};

  constructor(image: string) {
    super();
    this.addClass('jp-dockyard-form');
    const field = (key: string, label: string, placeholder: string) => {
      const input = (this.inputs[key] = el('input', { class: 'jp-mod-styled', placeholder,
        'aria-label': label, name: key }));
      return el('label', {}, label, input);
    };
    this.node.append(el('p', {}, `Start a container from ${image}.`),
      field('command', 'Command', 'default command of the image'),
      field('name', 'Name', 'a generated name'),
      field('port', 'Container port to publish', 'e.g. 8080'),
      field('network', 'Network', "the daemon's default"));
  }

  getValue(): Record<string, string> {
    return Object.fromEntries(Object.entries(this.inputs).map(([k, v]) => [k, v.value.trim()]));
  }
}

function runSpec(image: string, form: Record<string, string>): Record<string, unknown> {
  const spec: Record<string, any> = { Image: image, HostConfig: {} };
  if (form.command) spec.Cmd = ['sh', '-c', form.command];
  if (form.network) spec.HostConfig.NetworkMode = form.network;
  if (form.port) {
    const port = `${Number(form.port)}/tcp`;
    spec.ExposedPorts = { [port]: {} };
    spec.HostConfig.PortBindings = { [port]: [{ HostIp: '127.0.0.1', HostPort: '' }] };
  }
  return spec;
}

class Frontend {
  readonly client = new DockyardClient();
  readonly panel: DockyardPanel;

  constructor(private app: JupyterFrontEnd) {
    this.panel = new DockyardPanel(this.client, {
      run: row => this.runImage(row),
      tag: row => this.tagImage(row),
      push: row => this.push(row),
      pull: (ref, prefill) => this.pull(ref, prefill),
      logs: row => this.logs(row.id, row.name),
      openPort: (row, port) => this.openPort(row, port)
    });
    this.panel.title.icon = ICON;
  }

  open(widget: Widget): MainAreaWidget {
    const main = new MainAreaWidget({ content: widget });
    main.id = widget.id;
    main.title.label = widget.title.label;
    main.title.icon = ICON;
    this.app.shell.add(main, 'main');
    this.app.shell.activateById(main.id);
    return main;
  }

  logs(id: string, name: string): void {
    const tabId = `dockyard-logs-${id.slice(0, 12)}`;
    [...this.app.shell.widgets('main')].find(w => w.id === tabId)?.dispose();
    this.open(new LogView(this.client, id, name));
  }

  async runImage(row: ImageRow): Promise<void> {
    const result = await showDialog({ title: `Run ${row.ref}`, body: new RunForm(row.ref),
      buttons: [Dialog.cancelButton(), Dialog.okButton({ label: 'Run' })] });
    if (!result.button.accept || !result.value) return;
    await this.start(runSpec(row.ref, result.value), result.value.name);
  }

  private async start(spec: Record<string, unknown>, name = ''): Promise<void> {
    const query = name ? `?name=${encodeURIComponent(name)}` : '';
    const created = await this.client.engine(`containers/create${query}`, post(spec));
    await this.client.engine(`containers/${created.Id}/start`, { method: 'POST' });
    const info = await this.client.engine(`containers/${created.Id}/json`);
    this.logs(created.Id, String(info.Name ?? created.Id).replace(/^\//, ''));
    await this.panel.refreshContainers();
  }

  async tagImage(row: ImageRow): Promise<void> {
    const answer = await InputDialog.getText({ title: `Tag ${row.ref}`,
      label: 'New name (repository[:tag])', placeholder: 'localhost:5000/app:1.0' });
    if (!answer.button.accept || !answer.value) return;
    const { image, tag } = parseReference(answer.value);
    const query = `repo=${encodeURIComponent(image)}&tag=${encodeURIComponent(tag)}`;
    await this.client.engine(`images/${encodeURIComponent(row.id)}/tag?${query}`, post());
    await this.panel.refreshImages();
  }

  async push(row: ImageRow): Promise<void> {
    const { image, tag } = parseReference(row.ref);
    const url = this.client.engineUrl(`images/${image}/push?tag=${encodeURIComponent(tag)}`);
    const init = post(undefined, { 'X-Registry-Auth': ANONYMOUS_AUTH });
    await this.progress(`Push ${row.ref}`, url, init);
  }

  async pull(ref?: string, prefill = ''): Promise<void> {
    let target = ref;
    if (!target) {
      const answer = await InputDialog.getText({ title: 'Pull an image',
        label: 'Image (name[:tag])', placeholder: `${prefill}busybox:latest`, text: prefill });
      if (!answer.button.accept || !answer.value) return;
      target = answer.value;
    }
    const { image, tag } = parseReference(target);
    const url = this.client.engineUrl(`images/create?fromImage=${encodeURIComponent(image)}` +
      `&tag=${encodeURIComponent(tag)}`);
    const init = post(undefined, { 'X-Registry-Auth': ANONYMOUS_AUTH });
    await this.progress(`Pull ${target}`, url, init);
  }

  async build(path: string): Promise<void> {
    const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
    const suggestion = `${folder.split('/').pop() || 'app'}:latest`;
    const answer = await InputDialog.getText({ title: `Build ${path}`,
      label: 'Name the image (optional)', placeholder: suggestion });
    if (!answer.button.accept) return;
    const query = `path=${encodeURIComponent(path)}&t=${encodeURIComponent(answer.value ?? '')}`;
    await this.progress(`Build ${path}`, this.client.url(`build?${query}`), post());
  }

  private async progress(label: string, url: string, init: RequestInit): Promise<void> {
    const view = new ProgressView(this.client, label, url, init);
    this.open(view);
    await view.done;
    await this.panel.refreshImages();
  }

  async runFile(path: string): Promise<void> {
    const images: any[] = await this.client.engine('images/json');
    const tags: string[] = images.flatMap(i =>
      (i.RepoTags ?? []).filter((t: string) => t !== '<none>:<none>'));
    const python = tags.filter(t => t.includes('python'));
    const answer = await InputDialog.getItem({ title: `Run python ${path}`,
      label: 'Image (the notebook folder is mounted at /work)', editable: true,
      items: [...python, ...tags.filter(t => !python.includes(t))] });
    if (!answer.button.accept || !answer.value) return;
    await this.start(runFileSpec(answer.value, PageConfig.getOption('serverRoot'), path));
  }

  openPort(row: ContainerRow, port: number): void {
    window.open(this.client.url('containers', row.id, 'ports', String(port), '/'), '_blank');
  }
}

function notifyErrors(fn: (args: any) => Promise<void> | void) {
  return async (args: any) => {
    try {
      await fn(args);
    } catch (err) {
      Notification.error((err as Error).message, { autoClose: 8000 });
    }
  };
}

function selectedPath(factory: IFileBrowserFactory | null): string | null {
  const item = factory?.tracker.currentWidget?.selectedItems().next();
  return item && !item.done ? item.value.path : null;
}

function addCommands(app: JupyterFrontEnd, ui: Frontend, factory: IFileBrowserFactory | null,
  palette: ICommandPalette | null): void {
  const name = () => (selectedPath(factory) ?? '').split('/').pop() ?? '';
  const commands: [string, string, (args: any) => Promise<void> | void, (() => boolean)?][] = [
    ['dockyard:open', 'Show Containers Panel', () => app.shell.activateById(ui.panel.id)],
    ['dockyard:refresh', 'Refresh Containers Panel', () => ui.panel.refresh()],
    ['dockyard:pull', 'Pull Image…', () => ui.pull()],
    ['dockyard:build', 'Build Image from this Dockerfile',
      args => ui.build(args.path ?? selectedPath(factory)), () => name() === 'Dockerfile'],
    ['dockyard:run-file', 'Run in Container',
      args => ui.runFile(args.path ?? selectedPath(factory)), () => name().endsWith('.py')],
    ['dockyard:logs', 'Show Container Logs', args => ui.logs(args.id, args.name ?? args.id)]
  ];
  for (const [id, label, execute, isVisible] of commands) {
    app.commands.addCommand(id, { label, execute: notifyErrors(execute),
      ...(isVisible ? { isVisible } : {}) });
  }
  for (const id of ['dockyard:open', 'dockyard:refresh', 'dockyard:pull']) {
    palette?.addItem({ command: id, category: 'Containers' });
  }
  app.contextMenu.addItem({ command: 'dockyard:build', selector: FILE_ITEM, rank: 20 });
  app.contextMenu.addItem({ command: 'dockyard:run-file', selector: FILE_ITEM, rank: 21 });
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: 'dockyard-jupyter:panel',
  description: 'Images, containers and registries of the dockyard daemon in the sidebar.',
  autoStart: true,
  optional: [ICommandPalette, IFileBrowserFactory, ILayoutRestorer, INotebookTracker],
  activate: (app: JupyterFrontEnd, palette: ICommandPalette | null,
    factory: IFileBrowserFactory | null, restorer: ILayoutRestorer | null,
    notebooks: INotebookTracker | null) => {
    const ui = new Frontend(app);
    app.shell.add(ui.panel, 'left', { rank: 400 });
    restorer?.add(ui.panel, ui.panel.id);
    addCommands(app, ui, factory, palette);
    if (notebooks) new NotebookRecords(ui.client, notebooks);   // metadata.dockyard
  }
};

export default plugin;
