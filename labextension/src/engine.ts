/**
 * Engine API data for the panel: pure functions (no DOM, no JupyterLab), so the formatting
 * and the stream parsers are unit-tested under Node. Wording follows the docker CLI
 * (`docker images`, `docker ps`), because that is what users compare the panel with.
 */

export interface ImageSummary {
  Id: string;
  RepoTags?: string[] | null;
  RepoDigests?: string[] | null;
  Created: number;
  Size: number;
}

export interface PortSummary {
  IP?: string;
  PrivatePort: number;
  PublicPort?: number;
  Type: string;
}

export interface ContainerSummary {
  Id: string;
  Names?: string[];
  Image: string;
  State: string;
  Status: string;
  Ports?: PortSummary[] | null;
  Created: number;
}

export interface ImageRow {
  id: string;
  shortId: string;
  repository: string;
  tag: string;
  /** What actions address: `repo:tag` when tagged, else the image ID. */
  ref: string;
  size: string;
  created: string;
}

export interface ContainerRow {
  id: string;
  shortId: string;
  name: string;
  image: string;
  state: string;
  status: string;
  running: boolean;
  ports: string;
  /** Container ports with a TCP binding, openable through the Jupyter proxy. */
  webPorts: number[];
}

const UNITS = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];

/** go-units HumanSize: decimal units, 4 significant digits ("4.265MB"), as docker images. */
export function humanSize(bytes: number): string {
  let size = Math.max(0, bytes);
  let unit = 0;
  while (size >= 1000 && unit < UNITS.length - 1) {
    size /= 1000;
    unit++;
  }
  return `${Number(size.toPrecision(4))}${UNITS[unit]}`;
}

/** go-units HumanDuration, the words of `docker ps`' "Up 3 minutes" and "2 days ago". */
export function humanDuration(seconds: number): string {
  const s = Math.floor(seconds);
  const minutes = Math.floor(s / 60);
  const hours = Math.floor(s / 3600);
  if (s < 1) return 'Less than a second';
  if (s === 1) return '1 second';
  if (s < 60) return `${s} seconds`;
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  if (Math.round(s / 3600) === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(hours / 24 / 365)} years`;
}

export function ago(unixSeconds: number, nowMs: number = Date.now()): string {
  return `${humanDuration(nowMs / 1000 - unixSeconds)} ago`;
}

export function shortId(id: string): string {
  return id.replace(/^sha256:/, '').slice(0, 12);
}

/** `localhost:5000/app:1.0` → repository `localhost:5000/app`, tag `1.0` (a registry port is
 * not a tag: the tag is after the last colon only when no slash follows it). */
export function splitRepoTag(repoTag: string): { repository: string; tag: string } {
  const at = repoTag.indexOf('@');
  if (at >= 0) return { repository: repoTag.slice(0, at), tag: '<none>' };
  const colon = repoTag.lastIndexOf(':');
  if (colon < 0 || repoTag.indexOf('/', colon) >= 0) {
    return { repository: repoTag, tag: 'latest' };
  }
  return { repository: repoTag.slice(0, colon), tag: repoTag.slice(colon + 1) };
}

/** One row per tag, as `docker images`; an untagged image is one `<none>` row. */
export function imageRows(images: ImageSummary[], nowMs: number = Date.now()): ImageRow[] {
  const rows: ImageRow[] = [];
  const byNewest = [...images].sort((a, b) => b.Created - a.Created);
  for (const image of byNewest) {
    const tags = (image.RepoTags ?? []).filter(t => t !== '<none>:<none>');
    const common = {
      id: image.Id,
      shortId: shortId(image.Id),
      size: humanSize(image.Size),
      created: ago(image.Created, nowMs)
    };
    if (tags.length === 0) {
      const digest = (image.RepoDigests ?? [])[0];
      const repository = digest ? digest.split('@')[0] : '<none>';
      rows.push({ ...common, repository, tag: '<none>', ref: image.Id });
    }
    for (const tag of tags) {
      rows.push({ ...common, ...splitRepoTag(tag), ref: tag });
    }
  }
  return rows;
}

/** `docker ps` PORTS column: `127.0.0.1:8080->80/tcp, 443/tcp`. */
export function formatPorts(ports: PortSummary[] | null | undefined): string {
  const seen = new Set<string>();
  const sorted = [...(ports ?? [])].sort((a, b) => a.PrivatePort - b.PrivatePort);
  for (const p of sorted) {
    const inner = `${p.PrivatePort}/${p.Type}`;
    const host = p.IP && p.IP.includes(':') ? `[${p.IP}]` : p.IP;
    seen.add(p.PublicPort ? `${host ?? '0.0.0.0'}:${p.PublicPort}->${inner}` : inner);
  }
  return [...seen].join(', ');
}

export function containerRows(containers: ContainerSummary[]): ContainerRow[] {
  return [...containers]
    .sort((a, b) => b.Created - a.Created)
    .map(c => ({
      id: c.Id,
      shortId: shortId(c.Id),
      name: (c.Names ?? [])[0]?.replace(/^\//, '') ?? shortId(c.Id),
      image: c.Image.startsWith('sha256:') ? shortId(c.Image) : c.Image,
      state: c.State,
      status: c.Status,
      running: c.State === 'running' || c.State === 'restarting',
      ports: formatPorts(c.Ports),
      webPorts: [
        ...new Set(
          (c.Ports ?? []).filter(p => p.Type === 'tcp' && p.PublicPort).map(p => p.PrivatePort)
        )
      ].sort((a, b) => a - b)
    }));
}

export interface RegistryRow {
  name: string;
  /** null: the daemon has no settings for it (only a login names it) */
  secure: boolean | null;
  official: boolean;
  mirrors: string[];
  loggedIn: boolean;
  username: string;
}

/** Registries the daemon knows (`/info` IndexConfigs) joined with the user's logins. */
export function registryRows(
  indexConfigs: Record<string, any> | null | undefined,
  logins: Record<string, { username?: string }> | null | undefined
): RegistryRow[] {
  const names = new Set([...Object.keys(indexConfigs ?? {}), ...Object.keys(logins ?? {})]);
  return [...names].sort().map(name => {
    const index = (indexConfigs ?? {})[name];
    const login = (logins ?? {})[loginKey(name, logins)];
    return {
      name,
      secure: index ? index.Secure !== false : null,
      official: Boolean(index?.Official),
      mirrors: index?.Mirrors ?? [],
      loggedIn: login !== undefined,
      username: login?.username ?? ''
    };
  });
}

function loginKey(name: string, logins: Record<string, unknown> | null | undefined): string {
  if (name === 'docker.io' && logins && 'https://index.docker.io/v1/' in logins) {
    return 'https://index.docker.io/v1/';
  }
  return name;
}

/** Which list an event from `/events` invalidates. */
export function eventTopic(event: any): 'images' | 'containers' | null {
  const type = event?.Type ?? (event?.status && event?.from ? 'container' : undefined);
  if (type === 'image') return 'images';
  if (type === 'container') return 'containers';
  return null;
}

/**
 * Splits a stream of concatenated JSON values (the Engine API's `/events`, pull, push and build
 * progress) however the network cuts it: values may span chunks or share one, with or
 * without newlines between them. Strings are tracked so braces inside them do not count.
 */
export class JSONStreamParser {
  private buffer = '';
  private depth = 0;
  private inString = false;
  private escaped = false;
  private scanned = 0;

  feed(text: string): any[] {
    this.buffer += text;
    const values: any[] = [];
    let start = 0;
    for (let i = this.scanned; i < this.buffer.length; i++) {
      const ch = this.buffer[i];
      if (this.inString) {
        if (this.escaped) this.escaped = false;
        else if (ch === '\\') this.escaped = true;
        else if (ch === '"') this.inString = false;
      } else if (ch === '"') this.inString = true;
      else if (ch === '{' || ch === '[') this.depth++;
      else if ((ch === '}' || ch === ']') && --this.depth === 0) {
        values.push(JSON.parse(this.buffer.slice(start, i + 1)));
        start = i + 1;
      } else if (this.depth === 0 && /\s/.test(ch)) start = i + 1;
    }
    this.buffer = this.buffer.slice(start);
    this.scanned = this.buffer.length;
    return values;
  }
}

export interface LogFrame {
  stream: 'stdout' | 'stderr';
  data: Uint8Array;
}

/**
 * Demultiplexes a non-TTY container's logs: 8-byte headers (stream, 0, 0, 0, big-endian
 * length) before each payload. A frame may arrive in pieces, so partial input is kept.
 */
export class FrameDecoder {
  private pending = new Uint8Array(0);

  feed(chunk: Uint8Array): LogFrame[] {
    const buf = concat(this.pending, chunk);
    const frames: LogFrame[] = [];
    let at = 0;
    while (buf.length - at >= 8) {
      const size = new DataView(buf.buffer, buf.byteOffset + at + 4, 4).getUint32(0);
      if (buf.length - at - 8 < size) break;
      frames.push({
        stream: buf[at] === 2 ? 'stderr' : 'stdout',
        data: buf.slice(at + 8, at + 8 + size)
      });
      at += 8 + size;
    }
    this.pending = buf.slice(at);
    return frames;
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b;
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

export interface AnsiSegment {
  text: string;
  classes: string[];
  style: string;
}

const COLORS = ['black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white'];

interface AnsiState {
  fg: number | string | null;
  bg: number | string | null;
  bold: boolean;
  underline: boolean;
}

/**
 * SGR escapes → segments carrying JupyterLab's rendermime ANSI classes (`ansi-red-fg`,
 * `ansi-bold` …), which the themes colour; 256-colour and RGB values become inline styles.
 * Other escapes (cursor movement) are dropped. The state carries across calls, because a
 * colour set in one log chunk applies to the next.
 */
export class AnsiParser {
  private state: AnsiState = { fg: null, bg: null, bold: false, underline: false };
  private pending = '';

  feed(text: string): AnsiSegment[] {
    const input = this.pending + text;
    const incomplete = input.match(/\x1b(\[[0-9;?]*)?$/);
    const usable = incomplete ? input.slice(0, incomplete.index) : input;
    this.pending = incomplete ? incomplete[0] : '';
    const segments: AnsiSegment[] = [];
    const re = /\x1b\[([0-9;?]*)([@-~])/g;
    let last = 0;
    let m: RegExpExecArray | null;
    while ((m = re.exec(usable)) !== null) {
      this.emit(usable.slice(last, m.index), segments);
      if (m[2] === 'm') this.apply(m[1]);
      last = re.lastIndex;
    }
    this.emit(usable.slice(last), segments);
    return segments;
  }

  private emit(text: string, out: AnsiSegment[]): void {
    if (!text) return;
    const { fg, bg, bold, underline } = this.state;
    const classes: string[] = [];
    const style: string[] = [];
    const fgIndex = typeof fg === 'number' && bold && fg < 8 ? fg + 8 : fg;
    if (typeof fgIndex === 'number') classes.push(colorClass(fgIndex, 'fg'));
    else if (fgIndex) style.push(`color: rgb(${fgIndex})`);
    if (typeof bg === 'number') classes.push(colorClass(bg, 'bg'));
    else if (bg) style.push(`background-color: rgb(${bg})`);
    if (bold) classes.push('ansi-bold');
    if (underline) classes.push('ansi-underline');
    out.push({ text, classes, style: style.join('; ') });
  }

  private apply(params: string): void {
    const codes = params === '' ? [0] : params.split(';').map(p => Number(p || '0'));
    while (codes.length) {
      const code = codes.shift()!;
      const s = this.state;
      if (code === 0) this.state = { fg: null, bg: null, bold: false, underline: false };
      else if (code === 1) s.bold = true;
      else if (code === 4) s.underline = true;
      else if (code === 22) s.bold = false;
      else if (code === 24) s.underline = false;
      else if (code >= 30 && code <= 37) s.fg = code - 30;
      else if (code >= 90 && code <= 97) s.fg = code - 90 + 8;
      else if (code >= 40 && code <= 47) s.bg = code - 40;
      else if (code >= 100 && code <= 107) s.bg = code - 100 + 8;
      else if (code === 39) s.fg = null;
      else if (code === 49) s.bg = null;
      else if (code === 38) s.fg = extendedColor(codes);
      else if (code === 48) s.bg = extendedColor(codes);
    }
  }
}

function colorClass(index: number, kind: 'fg' | 'bg'): string {
  return `ansi-${COLORS[index % 8]}${index >= 8 ? '-intense' : ''}-${kind}`;
}

/** `38;5;N` (xterm 256) or `38;2;R;G;B`; consumes its arguments. */
function extendedColor(codes: number[]): number | string | null {
  const mode = codes.shift();
  if (mode === 2) {
    const rgb = codes.splice(0, 3);
    return rgb.length === 3 ? rgb.join(',') : null;
  }
  if (mode !== 5 || codes.length === 0) return null;
  const n = codes.shift()!;
  if (n < 16) return n;
  if (n >= 232) {
    const v = (n - 232) * 10 + 8;
    return `${v},${v},${v}`;
  }
  const cube = (x: number) => (x > 0 ? 55 + 40 * x : 0);
  const i = n - 16;
  return `${cube(Math.floor(i / 36))},${cube(Math.floor((i % 36) / 6))},${cube(i % 6)}`;
}

export interface LayerProgress {
  id: string;
  status: string;
  current: number;
  total: number;
}

/**
 * Folds pull/push/build JSON messages into what the progress view shows: one row per layer
 * (latest status and bytes), other status lines in order, build output text, the final error.
 */
/** Status lines that carry an `id` but are not about a layer (the tag being pulled). */
const NOT_A_LAYER = /^(Pulling from|Digest|Status)/;

export class ProgressModel {
  readonly layers = new Map<string, LayerProgress>();
  readonly lines: string[] = [];
  output = '';
  error: string | null = null;
  imageId: string | null = null;

  apply(message: any): void {
    if (message.error || message.errorDetail) {
      this.error = String(message.error ?? message.errorDetail?.message);
    } else if (typeof message.stream === 'string') {
      this.output += message.stream;
    } else if (message.aux?.ID) {
      this.imageId = String(message.aux.ID);
    } else if (message.id && message.status && !NOT_A_LAYER.test(message.status)) {
      const detail = message.progressDetail ?? {};
      const prev = this.layers.get(message.id);
      this.layers.set(message.id, {
        id: message.id,
        status: message.status,
        current: detail.current ?? (isDone(message.status) ? prev?.total ?? 0 : 0),
        total: detail.total ?? prev?.total ?? 0
      });
    } else if (message.status) {
      this.lines.push(message.id ? `${message.id}: ${message.status}` : message.status);
    }
  }
}

function isDone(status: string): boolean {
  return /complete|already exists|pushed|mounted/i.test(status);
}

/** Percent for a progress bar, or null when the daemon gave no total. */
export function percent(layer: LayerProgress): number | null {
  if (isDone(layer.status)) return 100;
  if (!layer.total) return null;
  return Math.min(100, Math.round((100 * layer.current) / layer.total));
}

/** `docker run` takes `name[:tag]`; a pull asks for both parts separately. */
export function parseReference(ref: string): { image: string; tag: string } {
  const trimmed = ref.trim();
  if (trimmed.includes('@')) {
    const [image, digest] = trimmed.split('@');
    return { image, tag: digest };
  }
  const { repository, tag } = splitRepoTag(trimmed);
  return { image: repository, tag };
}

/** The Engine API's `X-Registry-Auth` for anonymous access (base64 of `{}`): dockerd refuses
 * a push without the header. */
export const ANONYMOUS_AUTH = 'e30=';

/** The `docker history` rows shown when an image is expanded. */
export function historyRows(
  history: { Id: string; Created: number; CreatedBy: string; Size: number }[],
  nowMs: number = Date.now()
): { id: string; created: string; createdBy: string; size: string }[] {
  return history.map(h => ({
    id: h.Id === '<missing>' ? '<missing>' : shortId(h.Id),
    created: ago(h.Created, nowMs),
    createdBy: h.CreatedBy.replace(/^\/bin\/sh -c #\(nop\)\s*/, '').trim(),
    size: humanSize(h.Size)
  }));
}

/** "Run in container": `python <file>` with the notebook folder mounted at /work. */
export function runFileSpec(
  image: string,
  serverRoot: string,
  path: string
): Record<string, unknown> {
  const folder = path.includes('/') ? path.slice(0, path.lastIndexOf('/')) : '';
  const file = path.slice(path.lastIndexOf('/') + 1);
  return {
    Image: image,
    Cmd: ['python', file],
    WorkingDir: folder ? `/work/${folder}` : '/work',
    Tty: false,
    HostConfig: { Binds: [`${serverRoot.replace(/\/$/, '')}:/work`] }
  };
}

export interface DaemonView {
  state: 'ready' | 'starting' | 'unreachable';
  message: string;
}

/** What the panel says about `/dockyard/status`: a managed daemon whose process is alive but
 * does not answer yet is starting (the server restarts one that died); anything else that
 * does not answer is unreachable, with the server's reason. */
export function daemonView(status: {
  host: string;
  reachable: boolean;
  error?: string;
  daemon?: { managed?: boolean; pid?: number | null };
}): DaemonView {
  if (status.reachable) return { state: 'ready', message: '' };
  const pid = status.daemon?.managed ? status.daemon.pid : null;
  if (pid) {
    return {
      state: 'starting',
      message: `The dockyard daemon (pid ${pid}) is starting at ${status.host}…`
    };
  }
  return {
    state: 'unreachable',
    message: `Cannot reach the daemon at ${status.host}: ${status.error || 'no answer'}`
  };
}
