/**
 * The one way the front end reaches the daemon: the server extension's `/dockyard/` routes,
 * through JupyterLab's ServerConnection (which adds the token and the XSRF header). Errors
 * become `EngineError` carrying the daemon's own `{"message": …}` wording.
 */
import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';

export interface DaemonStatus {
  host: string;
  reachable: boolean;
  version?: string;
  api_version?: string;
  error?: string;
  daemon?: { managed: boolean; pid?: number | null; restarts?: number };
}

export class EngineError extends Error {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message);
  }
}

export class DockyardClient {
  readonly settings = ServerConnection.makeSettings();
  apiVersion = '';

  url(...parts: string[]): string {
    return URLExt.join(this.settings.baseUrl, 'dockyard', ...parts);
  }

  async status(): Promise<DaemonStatus> {
    const status = (await this.fetchJSON(this.url('status'))) as DaemonStatus;
    this.apiVersion = status.api_version ? `v${status.api_version}` : '';
    return status;
  }

  /** An Engine API path (`/images/json`) → its URL under the proxy, at the negotiated version. */
  engineUrl(path: string): string {
    const prefix = this.apiVersion ? [this.apiVersion] : [];
    return this.url('api', ...prefix, path.replace(/^\//, ''));
  }

  async engine(path: string, init: RequestInit = {}): Promise<any> {
    return this.fetchJSON(this.engineUrl(path), init);
  }

  async registries(): Promise<any> {
    return this.fetchJSON(this.url('registries'));
  }

  /** A notebook's part of the dockyard.lock.json beside it (404 `EngineError`: no lock). */
  async lock(notebookPath: string): Promise<unknown> {
    return this.fetchJSON(`${this.url('lock')}?path=${encodeURIComponent(notebookPath)}`);
  }

  /** A streamed response, handed over chunk by chunk until it ends or `signal` aborts. */
  async stream(
    url: string,
    init: RequestInit,
    onChunk: (chunk: Uint8Array) => void,
    onOpen: () => void = () => undefined
  ): Promise<void> {
    const response = await this.request(url, init);
    onOpen();
    const reader = response.body!.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      onChunk(value);
    }
  }

  async request(url: string, init: RequestInit = {}): Promise<Response> {
    let response: Response;
    try {
      response = await ServerConnection.makeRequest(url, init, this.settings);
    } catch (err) {
      throw new EngineError(`Jupyter server unreachable: ${(err as Error).message}`, 0);
    }
    if (!response.ok) throw await errorOf(response);
    return response;
  }

  private async fetchJSON(url: string, init: RequestInit = {}): Promise<any> {
    const response = await this.request(url, init);
    const text = await response.text();
    return text ? JSON.parse(text) : null;
  }
}

async function errorOf(response: Response): Promise<EngineError> {
  const text = await response.text();
  let message = text.trim() || response.statusText;
  try {
    message = JSON.parse(text).message ?? message;
  } catch {
    /* not JSON: keep the text */
  }
  return new EngineError(message, response.status);
}

export function post(body?: unknown, headers: Record<string, string> = {}): RequestInit {
  if (body === undefined) return { method: 'POST', headers };
  return {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'Content-Type': 'application/json', ...headers }
  };
}
