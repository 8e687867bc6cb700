/**
 * Keeps each open notebook's `metadata.dockyard` in step with the dockyard.lock.json its
 * kernel writes beside it: read when the notebook opens, and again when the kernel goes idle
 * after a `%docker`/`%%dockerfile` cell. A change marks the notebook dirty, so the next save
 * puts the record inside the .ipynb. A toolbar item says how many images the notebook records.
 */
import { ISessionContext } from '@jupyterlab/apputils';
import { INotebookTracker, NotebookPanel } from '@jupyterlab/notebook';
import { KernelMessage } from '@jupyterlab/services';
import { Widget } from '@lumino/widgets';

import { DockyardClient, EngineError } from './api';
import { METADATA_KEY, describeRecord, isLockRecord, mergeLock, touchesLock } from './lock';

/** The toolbar item: hidden until the notebook records an image. */
class RecordIndicator extends Widget {
  constructor() {
    super({ node: document.createElement('span') });
    this.addClass('jp-dockyard-record');
    this.node.setAttribute('role', 'status');
    this.hide();
  }

  render(record: unknown, problem = ''): void {
    const words = describeRecord(record);
    this.node.textContent = problem ? 'dockyard: record not updated' : words?.label ?? '';
    this.node.title = problem || words?.detail || '';
    this.node.setAttribute('aria-label', this.node.title);
    this.setHidden(!problem && !words);
  }
}

export class NotebookRecords {
  constructor(private client: DockyardClient, tracker: INotebookTracker) {
    tracker.widgetAdded.connect((_, panel) => this.watch(panel));
  }

  private watch(panel: NotebookPanel): void {
    const indicator = new RecordIndicator();
    panel.toolbar.addItem('dockyard-record', indicator);
    let pending = '';               // the msg_id of a magic cell's run, until the kernel idles
    const onMessage = (_: ISessionContext, msg: KernelMessage.IMessage) => {
      const parent = String(msg.parent_header?.msg_id ?? '');
      if (KernelMessage.isExecuteInputMsg(msg) && touchesLock(msg.content.code)) {
        pending = parent;
      } else if (pending && pending === parent && KernelMessage.isStatusMsg(msg) &&
        msg.content.execution_state === 'idle') {
        pending = '';
        void this.update(panel, indicator);
      }
    };
    panel.sessionContext.iopubMessage.connect(onMessage);
    void panel.context.ready.then(() => this.update(panel, indicator));
  }

  /** Fetch the lock and merge it in; no lock (404) leaves the metadata as it is. */
  async update(panel: NotebookPanel, indicator: RecordIndicator): Promise<void> {
    let problem = '';
    try {
      const lock = await this.client.lock(panel.context.path);
      const model = panel.model;
      if (!isLockRecord(lock) || !model || panel.isDisposed) return;
      const merged = mergeLock(model.getMetadata(METADATA_KEY), lock);
      if (merged) {
        model.setMetadata(METADATA_KEY, merged);
        model.dirty = true;
      }
    } catch (err) {
      if (!(err instanceof EngineError && err.status === 404)) {
        problem = `dockyard could not read the lock beside this notebook: ${(err as Error).message}`;
      }
    }
    if (!panel.isDisposed) indicator.render(panel.model?.getMetadata(METADATA_KEY), problem);
  }
}
