import { describe, expect, it } from 'vitest';

import {
  AnsiParser,
  FrameDecoder,
  JSONStreamParser,
  ProgressModel,
  containerRows,
  daemonView,
  eventTopic,
  formatPorts,
  historyRows,
  humanDuration,
  humanSize,
  imageRows,
  parseReference,
  percent,
  registryRows,
  runFileSpec,
  splitRepoTag
} from '../engine';

const NOW = 1_700_000_000_000;

describe('formatting as the docker CLI does', () => {
  it('sizes in decimal units with 4 significant digits', () => {
    expect(humanSize(0)).toBe('0B');
    expect(humanSize(999)).toBe('999B');
    expect(humanSize(4264960)).toBe('4.265MB');
    expect(humanSize(1_000_000_000)).toBe('1GB');
    expect(humanSize(72_900_000_000)).toBe('72.9GB');
  });

  it('durations in go-units words', () => {
    expect(humanDuration(0.2)).toBe('Less than a second');
    expect(humanDuration(1)).toBe('1 second');
    expect(humanDuration(59)).toBe('59 seconds');
    expect(humanDuration(61)).toBe('About a minute');
    expect(humanDuration(3 * 60)).toBe('3 minutes');
    expect(humanDuration(3600)).toBe('About an hour');
    expect(humanDuration(5 * 3600)).toBe('5 hours');
    expect(humanDuration(3 * 86400)).toBe('3 days');
    expect(humanDuration(21 * 86400)).toBe('3 weeks');
    expect(humanDuration(90 * 86400)).toBe('3 months');
    expect(humanDuration(800 * 86400)).toBe('2 years');
  });

  it('splits repository and tag without mistaking a registry port', () => {
    expect(splitRepoTag('busybox:latest')).toEqual({ repository: 'busybox', tag: 'latest' });
    expect(splitRepoTag('localhost:5000/app')).toEqual({
      repository: 'localhost:5000/app',
      tag: 'latest'
    });
    expect(splitRepoTag('localhost:5000/app:1.0')).toEqual({
      repository: 'localhost:5000/app',
      tag: '1.0'
    });
    expect(parseReference('app@sha256:abc')).toEqual({ image: 'app', tag: 'sha256:abc' });
    expect(parseReference(' reg:5000/x/y ')).toEqual({ image: 'reg:5000/x/y', tag: 'latest' });
  });

  it('lists one row per tag, newest first, untagged as <none>', () => {
    const rows = imageRows(
      [
        { Id: 'sha256:' + 'a'.repeat(64), RepoTags: ['old:1'], Created: NOW / 1000 - 7200, Size: 1e6 },
        {
          Id: 'sha256:' + 'b'.repeat(64),
          RepoTags: ['new:1', 'new:latest'],
          Created: NOW / 1000 - 30,
          Size: 2500
        },
        { Id: 'sha256:' + 'c'.repeat(64), RepoTags: ['<none>:<none>'], Created: 0, Size: 0 }
      ],
      NOW
    );
    expect(rows.map(r => `${r.repository}:${r.tag}`)).toEqual([
      'new:1',
      'new:latest',
      'old:1',
      '<none>:<none>'
    ]);
    expect(rows[0]).toMatchObject({ shortId: 'bbbbbbbbbbbb', size: '2.5kB', created: '30 seconds ago' });
    expect(rows[2].created).toBe('2 hours ago');
    expect(rows[3].ref).toBe('sha256:' + 'c'.repeat(64));
  });

  it('formats ports as docker ps and finds the openable ones', () => {
    const ports = [
      { PrivatePort: 443, Type: 'tcp' },
      { IP: '127.0.0.1', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '::', PrivatePort: 80, PublicPort: 8080, Type: 'tcp' },
      { IP: '0.0.0.0', PrivatePort: 53, PublicPort: 5353, Type: 'udp' }
    ];
    expect(formatPorts(ports)).toBe(
      '0.0.0.0:5353->53/udp, 127.0.0.1:8080->80/tcp, [::]:8080->80/tcp, 443/tcp'
    );
    const [row] = containerRows([
      { Id: 'f'.repeat(64), Names: ['/web'], Image: 'nginx', State: 'running', Status: 'Up 2 minutes', Ports: ports, Created: 1 }
    ]);
    expect(row).toMatchObject({ name: 'web', running: true, webPorts: [80], shortId: 'ffffffffffff' });
    expect(formatPorts(null)).toBe('');
  });

  it('joins registries with login state, without secrets', () => {
    const rows = registryRows(
      {
        'docker.io': { Name: 'docker.io', Official: true, Secure: true, Mirrors: ['http://m:5000'] },
        '127.0.0.0/8': { Name: '127.0.0.0/8', Secure: false, Mirrors: [] }
      },
      { 'https://index.docker.io/v1/': { username: 'ann' }, 'localhost:5000': { username: '' } }
    );
    const byName = Object.fromEntries(rows.map(r => [r.name, r]));
    expect(byName['docker.io']).toMatchObject({ loggedIn: true, username: 'ann', official: true });
    expect(byName['127.0.0.0/8']).toMatchObject({ loggedIn: false, secure: false });
    expect(byName['localhost:5000']).toMatchObject({ loggedIn: true, username: '', secure: null });
    expect(byName['docker.io'].secure).toBe(true);
  });

  it('shortens history', () => {
    const [row] = historyRows(
      [{ Id: '<missing>', Created: NOW / 1000 - 60, CreatedBy: '/bin/sh -c #(nop)  CMD ["sh"]', Size: 0 }],
      NOW
    );
    expect(row).toEqual({ id: '<missing>', created: 'About a minute ago', createdBy: 'CMD ["sh"]', size: '0B' });
  });

  it('runs a file with the notebook folder mounted', () => {
    expect(runFileSpec('python:3', '/home/u/nb/', 'sub/dir/a.py')).toEqual({
      Image: 'python:3',
      Cmd: ['python', 'a.py'],
      WorkingDir: '/work/sub/dir',
      Tty: false,
      HostConfig: { Binds: ['/home/u/nb:/work'] }
    });
    expect(runFileSpec('py', '/r', 'a.py').WorkingDir).toBe('/work');
  });
});

describe('JSONStreamParser', () => {
  it('splits values however the chunks fall', () => {
    const parser = new JSONStreamParser();
    const text = '{"Type":"container","Action":"start"}\n{"status":"a}{b\\"}"}{"x":[1,{"y":2}]}\r\n';
    const out: any[] = [];
    for (const ch of text) out.push(...parser.feed(ch));
    expect(out).toEqual([
      { Type: 'container', Action: 'start' },
      { status: 'a}{b"}' },
      { x: [1, { y: 2 }] }
    ]);
    expect(parser.feed('')).toEqual([]);
  });

  it('gives whole values in one chunk at once', () => {
    expect(new JSONStreamParser().feed('{"a":1}{"b":2}\n{"c"')).toEqual([{ a: 1 }, { b: 2 }]);
  });

  it('throws on garbage rather than hiding it', () => {
    expect(() => new JSONStreamParser().feed('{"a":}')).toThrow();
  });

  it('maps events to the list they change', () => {
    expect(eventTopic({ Type: 'image', Action: 'pull' })).toBe('images');
    expect(eventTopic({ Type: 'container', Action: 'die' })).toBe('containers');
    expect(eventTopic({ status: 'start', id: 'x', from: 'busybox' })).toBe('containers');
    expect(eventTopic({ Type: 'network', Action: 'connect' })).toBeNull();
  });
});

function frame(stream: number, text: string): Uint8Array {
  const body = new TextEncoder().encode(text);
  const out = new Uint8Array(8 + body.length);
  out[0] = stream;
  new DataView(out.buffer).setUint32(4, body.length);
  out.set(body, 8);
  return out;
}

describe('FrameDecoder', () => {
  it('demultiplexes stdout and stderr across split chunks', () => {
    const bytes = new Uint8Array([...frame(1, 'out\n'), ...frame(2, 'err\n'), ...frame(1, '')]);
    const decoder = new FrameDecoder();
    const frames = [];
    for (let i = 0; i < bytes.length; i += 3) frames.push(...decoder.feed(bytes.slice(i, i + 3)));
    const text = frames.map(f => `${f.stream}:${new TextDecoder().decode(f.data)}`);
    expect(text).toEqual(['stdout:out\n', 'stderr:err\n', 'stdout:']);
  });

  it('keeps an incomplete frame until the rest arrives', () => {
    const decoder = new FrameDecoder();
    const whole = frame(1, 'hello');
    expect(decoder.feed(whole.slice(0, 10))).toEqual([]);
    expect(decoder.feed(whole.slice(10)).map(f => new TextDecoder().decode(f.data))).toEqual(['hello']);
  });
});

describe('AnsiParser', () => {
  it('maps SGR codes to rendermime classes', () => {
    const segs = new AnsiParser().feed('plain \x1b[31mred\x1b[1;44m bold\x1b[0m end');
    expect(segs).toEqual([
      { text: 'plain ', classes: [], style: '' },
      { text: 'red', classes: ['ansi-red-fg'], style: '' },
      { text: ' bold', classes: ['ansi-red-intense-fg', 'ansi-blue-bg', 'ansi-bold'], style: '' },
      { text: ' end', classes: [], style: '' }
    ]);
  });

  it('handles 256 colours, RGB, and escapes split across chunks', () => {
    const parser = new AnsiParser();
    expect(parser.feed('a\x1b[38;5')).toEqual([{ text: 'a', classes: [], style: '' }]);
    expect(parser.feed(';196mb\x1b[48;2;1;2;3mc\x1b[2Kd')).toEqual([
      { text: 'b', classes: [], style: 'color: rgb(255,0,0)' },
      { text: 'c', classes: [], style: 'color: rgb(255,0,0); background-color: rgb(1,2,3)' },
      { text: 'd', classes: [], style: 'color: rgb(255,0,0); background-color: rgb(1,2,3)' }
    ]);
    expect(new AnsiParser().feed('\x1b[92mx')[0].classes).toEqual(['ansi-green-intense-fg']);
  });
});

describe('ProgressModel', () => {
  it('folds pull messages into per-layer rows', () => {
    const model = new ProgressModel();
    [
      { status: 'Pulling from library/busybox', id: 'latest' },
      { status: 'Pulling fs layer', progressDetail: {}, id: 'l1' },
      { status: 'Downloading', progressDetail: { current: 50, total: 200 }, id: 'l1' },
      { status: 'Download complete', progressDetail: {}, id: 'l1' },
      { status: 'Waiting', progressDetail: {}, id: 'l2' },
      { status: 'Digest: sha256:abc' },
      { status: 'Status: Downloaded newer image for busybox:latest' }
    ].forEach(m => model.apply(m));
    const l1 = model.layers.get('l1')!;
    expect(l1).toEqual({ id: 'l1', status: 'Download complete', current: 200, total: 200 });
    expect(percent(l1)).toBe(100);
    expect(percent(model.layers.get('l2')!)).toBeNull();
    expect(percent({ id: 'x', status: 'Pushing', current: 50, total: 200 })).toBe(25);
    expect(model.lines).toEqual([
      'latest: Pulling from library/busybox',
      'Digest: sha256:abc',
      'Status: Downloaded newer image for busybox:latest'
    ]);
  });

  it('collects build output, the image ID and errors', () => {
    const model = new ProgressModel();
    model.apply({ stream: 'Step 1/2 : FROM busybox\n' });
    model.apply({ aux: { ID: 'sha256:123' } });
    model.apply({ errorDetail: { message: 'boom' }, error: 'boom' });
    expect(model.output).toBe('Step 1/2 : FROM busybox\n');
    expect(model.imageId).toBe('sha256:123');
    expect(model.error).toBe('boom');
  });
});

describe('daemonView', () => {
  it('tells starting, unreachable and ready apart', () => {
    expect(daemonView({ host: 'unix:///s', reachable: true }).state).toBe('ready');
    expect(
      daemonView({ host: 'unix:///s', reachable: false, error: 'refused', daemon: { managed: true, pid: 42 } })
    ).toEqual({ state: 'starting', message: 'The dockyard daemon (pid 42) is starting at unix:///s…' });
    expect(
      daemonView({ host: 'unix:///s', reachable: false, error: 'refused', daemon: { managed: true, pid: null } })
    ).toEqual({ state: 'unreachable', message: 'Cannot reach the daemon at unix:///s: refused' });
    expect(daemonView({ host: 'h', reachable: false }).message).toBe('Cannot reach the daemon at h: no answer');
  });
});
