#!/usr/bin/python3
"""Mutation fuzzing of lrp's file readers and rules through the command line.

Each case mutates one seed file (a model, an input array or image, a tokenizer, training data,
a file list), runs one `lrp` command on it and keeps the case when the command
  - exits with a code other than 0 or 2 (a crash, an abort, a sanitizer report),
  - prints a sanitizer report at all,
  - runs past the timeout (a hang, or an allocation far beyond the input's size),
  - exits 2 with a message leaking a library's internals (std::, vector::) or "out of memory",
  - exits 0 but writes relevance with NaN or infinity.
Seeds are the repository's fixtures; ONNX models are mutated field by field (attributes,
dimensions, data types, node inputs and operators, raw weights), text formats number by
number and line by line, binary files byte by byte.

Not part of ctest (it runs for minutes, on random cases): run it by hand on a sanitizer build,
  cmake -S . -B build/asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DLRP_SANITIZE=ON -DLRP_BUILD_BENCH=OFF
  cmake --build build/asan -j"$(nproc)" --target lrp
  /usr/bin/python3 tests/fuzz/fuzz_cli.py --lrp build/asan/lrp --minutes 20 --out /tmp/lrp-fuzz
and a release build with an address-space limit, where a huge allocation fails at once:
  /usr/bin/python3 tests/fuzz/fuzz_cli.py --lrp build/release/lrp --memlimit 4000000000 --minutes 20
Needs numpy and onnx (python3-numpy python3-onnx); torchvision (python3-torchvision) for the
PNG/JPEG seeds, which are skipped without it. Found cases land in --out with a .log each.
"""
import argparse
import multiprocessing
import os
import random
import re
import struct
import subprocess
import tempfile
import time
import zipfile

import numpy as np

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FX = os.path.join(REPO, 'tests', 'fixtures')
LENET = os.path.join(REPO, 'examples', 'mnist', 'LeNet-5.txt')

NUMBERS = ['0', '-1', '1', '2147483647', '2147483648', '4294967296', '-2147483648', '99999999999', '1e308',
           '-1e308', 'nan', 'inf', '-inf', '1e-320', '', 'x', '3.5', '65536', '1000000000',
           '18446744073709551615', '1e40']
BYTES = [b'\x00', b'\xff', b'\x7f', b'\x80', b'\x01']
WORDS = [b'\xff\xff\xff\xff', b'\xff\xff\xff\x7f', b'\x00\x00\x00\x80', b'\x00\x00\x00\x00', b'\x00\x00\xc0\x7f',
         b'\x00\x00\x80\x7f', b'\xff\xff\xff\xff\xff\xff\xff\xff', b'\x00\x00\x00\x00\x00\x00\x00\x40']
# Options added to an `explain` case, one set per case: rules, methods and outputs that take
# other paths through the model.
EXPLAIN_VARIANTS = [[], [], [], ['--composite', 'epsilon_alpha2_beta1'], ['--method', 'gradient'], ['--target', 'all'],
                    ['--method', 'integrated-gradients', '--steps', '3'],
                    ['--method', 'occlusion', '--window', '2', '--stride', '2'], ['--method', 'smoothgrad', '--samples', '2'],
                    ['--dump-layers', '{O}.npz'], ['--heatmap', '{O}.png'], ['--precision', 'double'],
                    ['--method', 'guided-backprop'], ['--composite', 'epsilon_plus_flat', '--target', '0,1'],
                    ['--composite', 'epsilon_gamma_box:-1,1/nobias'], ['--rule', 'alphabeta:2,1/nobias'], ['--composite', 'deep_taylor'],
                    ['--concept-layer', '1', '--concepts', 'all'], ['--concept-layer', '2', '--concepts', 'top:2'],
                    ['--concept-layer', '0', '--concepts', '0,1+2', '--concept-axis', '-1'],
                    ['--concept-layer', '2', '--concepts', 'top:1', '--condition', '0:0+1']]


def mutate_bytes(data, rng):
    data = bytearray(data)
    for _ in range(rng.choice([1, 1, 2, 3, 6])):
        if not data:
            data = bytearray(b'\x00')
        op, pos = rng.randrange(7), rng.randrange(len(data))
        if op == 0:
            data[pos] ^= 1 << rng.randrange(8)
        elif op == 1:
            data[pos:pos + 1] = rng.choice(BYTES)
        elif op == 2:
            w = rng.choice(WORDS)
            data[pos:pos + len(w)] = w
        elif op == 3:
            del data[rng.randrange(len(data) + 1):]
        elif op == 4:
            del data[pos:pos + rng.randrange(1, 64)]
        elif op == 5:
            data[pos:pos] = data[pos:pos + rng.randrange(1, 64)]
        else:
            data[pos:pos] = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 16)))
    return bytes(data)


NUMBER_RE = re.compile(rb'-?\d+(\.\d+)?([eE][-+]?\d+)?')


def mutate_text(data, rng):
    if rng.random() < 0.3:
        return mutate_bytes(data, rng)
    lines = data.split(b'\n')
    for _ in range(rng.choice([1, 1, 2, 4])):
        op, i = rng.randrange(5), rng.randrange(len(lines))
        if op <= 1:
            numbers = list(NUMBER_RE.finditer(lines[i]))
            if numbers:
                m = rng.choice(numbers)
                lines[i] = lines[i][:m.start()] + rng.choice(NUMBERS).encode() + lines[i][m.end():]
        elif op == 2:
            del lines[i]
        elif op == 3:
            lines.insert(i, lines[rng.randrange(len(lines))])
        else:
            lines = lines[:i]
        lines = lines or [b'']
    return b'\n'.join(lines)


def mutate_graph(g, rng):
    import onnx
    from onnx import helper
    ints = [0, -1, 1, 2, 3, 7, 1 << 31, 1 << 40, -(1 << 40)]
    op = rng.randrange(8)
    if op == 0 and g.node:  # an attribute
        n = rng.choice(g.node)
        if not n.attribute:
            name = rng.choice(['axis', 'group', 'kernel_shape', 'strides', 'pads'])
            n.attribute.append(helper.make_attribute(name, rng.choice([[0], [1 << 33], -1, 5])))
            return
        a = rng.choice(n.attribute)
        if a.ints:
            a.ints[rng.randrange(len(a.ints))] = rng.choice(ints)
        elif a.type == onnx.AttributeProto.INT:
            a.i = rng.choice(ints)
        elif a.type == onnx.AttributeProto.FLOAT:
            a.f = rng.choice([0.0, -1.0, float('nan'), float('inf'), 1e30])
        elif a.floats:
            a.floats[rng.randrange(len(a.floats))] = rng.choice([0.0, float('nan'), -1.0])
        else:
            n.attribute.remove(a)
    elif op == 1 and g.initializer:  # a weight's dimension
        t = rng.choice(g.initializer)
        if t.dims:
            t.dims[rng.randrange(len(t.dims))] = rng.choice(ints)
    elif op == 2 and g.initializer:  # a weight's element type
        rng.choice(g.initializer).data_type = rng.choice([1, 2, 3, 6, 7, 10, 11, 16, 0, 99])
    elif op == 3 and g.node:  # a node's input: dropped, missing, or another value
        n = rng.choice(g.node)
        if n.input and rng.random() < 0.5:
            del n.input[rng.randrange(len(n.input))]
        elif n.input:
            names = ['', 'nonexistent'] + [x for m in g.node for x in m.output]
            n.input[rng.randrange(len(n.input))] = rng.choice(names)
    elif op == 4 and g.node:  # a node's operator
        rng.choice(g.node).op_type = rng.choice(['Conv', 'Gemm', 'MatMul', 'Relu', 'MaxPool', 'AveragePool', 'Add', 'Concat',
                                                 'Reshape', 'Flatten', 'BatchNormalization', 'Transpose', 'Softmax', 'Mul',
                                                 'Slice', 'Gather', 'Foo'])
    elif op == 5:  # a graph input's or output's dimension: another size, or dynamic (sized by the data)
        dims = rng.choice(list(g.input) + list(g.output)).type.tensor_type.shape.dim
        if dims and rng.random() < 0.3:
            dims[rng.randrange(len(dims))].dim_param = 'dynamic'
        elif dims:
            dims[rng.randrange(len(dims))].dim_value = rng.choice([0, 1, 2, 3, 1 << 31, 1 << 40])
    elif op == 6 and g.initializer:  # a weight's bytes: cut short, or NaN / infinity written in
        t = rng.choice(g.initializer)
        raw = bytearray(t.raw_data)
        if raw:
            if rng.random() < 0.5:
                del raw[rng.randrange(len(raw)):]
            else:
                p = rng.randrange(len(raw) - 3) if len(raw) > 4 else 0
                raw[p:p + 4] = rng.choice([b'\x00\x00\xc0\x7f', b'\x00\x00\x80\x7f', b'\xff\xff\xff\xff'])
            t.raw_data = bytes(raw)
    elif g.node:  # a node dropped or repeated
        i = rng.randrange(len(g.node))
        if rng.random() < 0.5:
            del g.node[i]
        else:
            g.node.insert(rng.randrange(len(g.node) + 1), g.node[i])


def mutate_keras_archive(data, rng):
    """A .keras zip: mostly one member mutated (the weights' HDF5 bytes, or config.json as text) and
    the archive rewritten with valid checksums, so the mutation reaches the readers behind the zip;
    sometimes the archive's own bytes."""
    if rng.randrange(8) == 0:
        return mutate_bytes(data, rng)
    import io
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        members = [(info.filename, z.read(info)) for info in z.infolist()]
    k = rng.randrange(len(members))
    name, body = members[k]
    members[k] = (name, mutate_text(body, rng) if name.endswith('.json') else mutate_bytes(body, rng))
    out = io.BytesIO()
    with zipfile.ZipFile(out, 'w', compression=zipfile.ZIP_STORED) as z:
        for name, body in members:
            z.writestr(name, bytes(body))
    return out.getvalue()


def mutate_onnx(data, rng):
    import onnx
    if rng.random() < 0.25:
        return mutate_bytes(data, rng)
    m = onnx.load_from_string(data)
    for _ in range(rng.choice([1, 1, 2, 3])):
        mutate_graph(m.graph, rng)
    return m.SerializeToString()


def make_seeds(d):
    """Seeds that are not fixtures: an MNIST-sized input, images, a vocabulary, training data."""
    rng = np.random.default_rng(0)
    digit = rng.uniform(-1, 1, size=(1, 32, 32, 1))
    np.save(f'{d}/digit.npy', digit)
    try:
        import torch
        from torchvision.io import encode_jpeg, encode_png
        img = torch.from_numpy(((digit[0, :, :, 0] + 1) * 127.5).astype(np.uint8))[None]
        open(f'{d}/digit.jpg', 'wb').write(bytes(encode_jpeg(img).numpy()))
        open(f'{d}/digit.png', 'wb').write(bytes(encode_png(img).numpy()))
    except ImportError:
        pass
    open(f'{d}/vocab.txt', 'w').write('\n'.join(['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', 'hello', 'world', ',', '!', 'h',
                                                 '##ello', '##llo', 'w', '##orld', '1', '##2', '##3', 'é', 'ö']))
    x = rng.integers(0, 256, size=(20, 4, 4), dtype=np.uint8)
    y = rng.integers(0, 3, size=20).astype(np.uint8)
    np.save(f'{d}/train_x.npy', x.astype(np.float32) / 255)
    np.save(f'{d}/train_y.npy', y.astype(np.int64))
    with open(f'{d}/train_x.idx', 'wb') as f:
        f.write(struct.pack('>IIII', 0x0803, 20, 4, 4) + x.tobytes())
    with open(f'{d}/train_y.idx', 'wb') as f:
        f.write(struct.pack('>II', 0x0801, 20) + y.tobytes())
    open(f'{d}/list.txt', 'w').write(f'{d}/digit.npy\n{d}/digit.png\n')


def targets(seeds):
    """(name, seed file, mutator, command with {F} for the mutated file and {O} for an output)."""
    t = []
    for name in ['mlp-tanh', 'tanh-sumpool-signed', 'maxpool-signed-linear']:
        p = f'{FX}/toolbox_extra/{name}'
        t.append(('toolbox-' + name, f'{p}/model.txt', mutate_text, ['explain', '{F}', f'{p}/input.npy', '--out', '{O}']))
    t.append(('toolbox-lenet', LENET, mutate_text, ['explain', '{F}', f'{seeds}/digit.npy', '--out', '{O}']))
    onnx_dirs = [f'{FX}/{n}' for n in ['prelu', 'lrn', 'gelu', 'einsum', 'conv1d', 'grad_cam', 'bert', 'gpt', 'vit', 'llama']]
    onnx_dirs += sorted(os.path.join(FX, 'zennit_modern', n) for n in os.listdir(f'{FX}/zennit_modern'))
    for p in onnx_dirs:
        t.append(('onnx-' + os.path.basename(p), f'{p}/model.onnx', mutate_onnx, ['explain', '{F}', f'{p}/input.npy', '--out', '{O}']))
    recurrent = [(n, n) for n in ['lstm/uni', 'lstm/bi2', 'lstm/text', 'gru/uni', 'gru/bi2', 'gru/before_reset0', 'rnn/uni', 'rnn/bi2']]
    recurrent += [('lstm/uni_seq_first', 'lstm/uni'), ('lstm/text_seq_first', 'lstm/text'), ('gru/bi2_seq_first', 'gru/bi2'),
                  ('lstm/uni_any_length', 'lstm/uni_any_length'), ('lstm/uni_seq_first_any_length', 'lstm/uni')]
    for name, data in recurrent:  # (model, the fixture whose _input.npy it reads)
        t.append(('onnx-' + name.replace('/', '-'), f'{FX}/{name}.onnx', mutate_onnx,
                  ['explain', '{F}', f'{FX}/{data}_input.npy' if data != 'lstm/uni_any_length' else f'{FX}/{data}_input4.npy', '--out', '{O}']))
    two = f'{FX}/two_inputs'  # several data inputs: an .npz of one array per input, relevance the same way
    t.append(('onnx-two-inputs', f'{two}/model.onnx', mutate_onnx, ['explain', '{F}', f'{two}/inputs.npz', '--out', '{O}.npz']))
    t.append(('input-two-inputs.npz', f'{two}/inputs.npz', mutate_bytes, ['explain', f'{two}/model.onnx', '{F}', '--out', '{O}.npz']))
    t.append(('onnx-bert-any-length', f'{FX}/bert/model_any_length.onnx', mutate_onnx, ['explain', '{F}', f'{FX}/bert/input5.npy', '--out', '{O}']))
    for name in ['net', 'fcn', 'v1']:
        p = f'{FX}/caffe/{name}'
        t.append(('caffe-prototxt-' + name, p + '.prototxt', mutate_text,
                  ['explain', '{F}', '--weights', p + '.caffemodel', p + '_input.npy', '--out', '{O}']))
        t.append(('caffe-weights-' + name, p + '.caffemodel', mutate_bytes,
                  ['explain', p + '.prototxt', '--weights', '{F}', p + '_input.npy', '--out', '{O}']))
    for name, data in [('cnn', 'cnn_input_nhwc'), ('resnet', 'resnet_input_nhwc'), ('mlp', 'mlp_input'), ('cnn_unsized', 'cnn_input_nhwc'),
                       ('zoo', 'zoo_input_nhwc'), ('updown', 'updown_input_nhwc')]:
        p = f'{FX}/keras/{name}.h5'  # HDF5 structures, the architecture JSON and the weights, mutated alike
        t.append(('keras-' + name, p, mutate_bytes, ['explain', '{F}', f'{FX}/keras/{data}.npy', '--composite', 'epsilon_plus_flat', '--out', '{O}']))
    for name, data in [('resnet', 'resnet_input_nhwc'), ('nested', 'nested_input_nhwc'), ('zoo', 'zoo_input_nhwc'), ('updown', 'updown_input_nhwc')]:
        t.append(('keras3-' + name, f'{FX}/keras/{name}.keras', mutate_keras_archive,
                  ['explain', '{F}', f'{FX}/keras/{data}.npy', '--composite', 'epsilon_plus_flat', '--out', '{O}']))
    sig = f'{FX}/conv1d/input.npy'  # signals [3, 2, 40]: a mutated relevance array drawn over them
    t.append(('render-signal', sig, mutate_bytes, ['render', '{F}', '--signal', '--grid', '--input', sig, '-o', '{O}.png']))
    for f in sorted(os.listdir(f'{FX}/io')):
        p = f'{FX}/io/{f}'
        if f.endswith('.npy'):
            t.append(('render-' + f, p, mutate_bytes, ['render', '{F}', '-o', '{O}.png']))
        elif f.endswith(('.npz', '.mat', '.txt')):
            t.append(('input-' + f, p, mutate_text if f.endswith('.txt') else mutate_bytes,
                      ['explain', f'{FX}/toolbox_extra/mlp-tanh/model.txt', '{F}', '--out', '{O}']))
    for image in ['digit.png', 'digit.jpg']:
        t.append(('image-' + image, f'{seeds}/{image}', mutate_bytes, ['explain', LENET, '{F}', '--out', '{O}']))
    for vocab in [f'{FX}/sentencepiece/tokenizer.json', f'{seeds}/vocab.txt']:
        t.append(('tokenize-' + os.path.basename(vocab), vocab, mutate_text,
                  ['tokenize', '{F}', 'Hello world, héllo wörld 123!', '--out', '{O}']))
    spec = 'Linear 16 8; Rect; Linear 8 3; SoftMax'
    for ext in ['idx', 'npy']:
        x, y = f'{seeds}/train_x.{ext}', f'{seeds}/train_y.{ext}'
        common = ['--out', '{O}.txt', '--iters', '5', '--quiet']
        t.append(('train-data.' + ext, x, mutate_bytes, ['train', '--layers', spec, '--data', '{F}', '--labels', y] + common))
        t.append(('train-labels.' + ext, y, mutate_bytes, ['train', '--layers', spec, '--data', x, '--labels', '{F}'] + common))
    mlp = f'{FX}/toolbox_extra/mlp-tanh'  # evaluate: a mutated relevance file (the input's shape), a mutated model
    measure = ['--metric', 'pixel-flipping,infidelity', '--perturb-steps', '5', '--perturbations', '2', '--orders', 'morf,random']
    t.append(('evaluate-relevance', f'{mlp}/input.npy', mutate_bytes, ['evaluate', f'{mlp}/model.txt', f'{mlp}/input.npy', '--relevance', '{F}'] + measure))
    t.append(('evaluate-model-lenet', LENET, mutate_text, ['evaluate', '{F}', f'{seeds}/digit.npy', '--rule', 'epsilon:0.01', '--region', '3',
                                                           '--fill', 'uniform', '--metric', 'pixel-flipping,infidelity,sensitivity,randomization',
                                                           '--perturb-steps', '4', '--perturbations', '2']))
    t.append(('batch-list', f'{seeds}/list.txt', mutate_text, ['batch', LENET, '{F}', '--out-dir', '{O}.d', '--rule', 'epsilon:0.01']))
    return [x for x in t if os.path.exists(x[1])]


def relevance_not_finite(path):
    try:
        a = np.load(path, allow_pickle=False)
        return a.dtype.kind == 'f' and not np.isfinite(a).all()
    except Exception as e:  # a written result numpy cannot read is a finding too
        return f'unreadable output: {e}'


def run_case(target, seed, workdir, args):
    name, path, mutate, cmd = target
    rng = random.Random(seed)
    data = open(path, 'rb').read()
    case = os.path.join(workdir, os.path.basename(path) if path.endswith('tokenizer.json') else 'case' + os.path.splitext(path)[1])
    try:
        mutated = mutate(data, rng)
    except Exception:  # the structured mutator could not parse its own seed's mutation
        mutated = mutate_bytes(data, rng)
    open(case, 'wb').write(mutated)
    out = os.path.join(workdir, 'out.npy')
    if os.path.exists(out):
        os.remove(out)
    if cmd[0] == 'explain':
        extra = rng.choice(EXPLAIN_VARIANTS)
        if '--composite' not in cmd + extra and '--method' not in extra:
            extra = extra + ['--rule', 'epsilon:0.01']
        cmd = cmd + extra
    argv = (['prlimit', f'--as={args.memlimit}'] if args.memlimit else []) + [args.lrp]
    argv += [a.replace('{F}', case).replace('{O}', out) for a in cmd]
    env = dict(os.environ, OMP_NUM_THREADS='1', ASAN_OPTIONS='detect_leaks=0:exitcode=99:allocator_may_return_null=1',
               UBSAN_OPTIONS='halt_on_error=1:exitcode=98:print_stacktrace=1')
    try:
        r = subprocess.run(argv, capture_output=True, timeout=args.timeout, env=env, cwd=workdir)
    except subprocess.TimeoutExpired:
        return 'timeout', mutated, argv, ''
    err = r.stderr.decode(errors='replace')
    if r.returncode not in (0, 2) or 'runtime error' in err or 'Sanitizer' in err:
        return f'exit {r.returncode}', mutated, argv, err[-6000:]
    if r.returncode == 2 and re.search(r'vector::|basic_string|\bsto[idlf]\b|bad_array|std::|_M_', err):
        return 'unclear message', mutated, argv, err
    if r.returncode == 2 and ('out of memory' in err or not err.strip() or 'terminate called' in err):
        return 'memory or no message', mutated, argv, err
    if r.returncode == 0 and os.path.exists(out):
        bad = relevance_not_finite(out)
        if bad:
            return f'non-finite output ({bad})', mutated, argv, err[-2000:]
    return None, None, None, None


def worker(wid, args, seeds):
    tg = [t for t in targets(seeds) if re.search(args.only, t[0])]
    workdir = tempfile.mkdtemp(prefix=f'lrp-fuzz-{wid}-')
    end, n, seen = time.time() + 60 * args.minutes, 0, set()
    seed = args.seed * 1000003 + wid * 7919
    while time.time() < end:
        target = tg[(n * args.workers + wid) % len(tg)]
        seed, n = seed + 1, n + 1
        kind, mutated, argv, err = run_case(target, seed, workdir, args)
        if not kind:
            continue
        tag = f'{target[0]}-{seed}'
        open(os.path.join(args.out, tag + os.path.splitext(target[1])[1]), 'wb').write(mutated)
        with open(os.path.join(args.out, tag + '.log'), 'w') as f:
            f.write(kind + '\n' + ' '.join(argv) + '\n' + err)
        last = (err.strip().splitlines() or [''])[-1][:160]
        if (target[0], kind, last) not in seen:
            seen.add((target[0], kind, last))
            print(f'{tag}: {kind}: {last}', flush=True)
    return n


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--lrp', required=True, help='the lrp binary (a sanitizer build finds the most)')
    ap.add_argument('--minutes', type=float, default=10)
    ap.add_argument('--workers', type=int, default=os.cpu_count())
    ap.add_argument('--out', default='/tmp/lrp-fuzz', help='folder for the cases found')
    ap.add_argument('--only', default='', help='regular expression on the target names')
    ap.add_argument('--seed', type=int, default=int(time.time()))
    ap.add_argument('--timeout', type=float, default=60, help='seconds per case')
    ap.add_argument('--memlimit', type=int, default=0, help='address-space limit in bytes (not with a sanitizer build)')
    args = ap.parse_args()
    args.lrp = os.path.abspath(args.lrp)
    os.makedirs(args.out, exist_ok=True)
    seeds = tempfile.mkdtemp(prefix='lrp-fuzz-seeds-')
    make_seeds(seeds)
    print(f'{len(targets(seeds))} targets, {args.workers} workers, {args.minutes} min, seed {args.seed}', flush=True)
    with multiprocessing.Pool(args.workers) as pool:
        counts = pool.starmap(worker, [(w, args, seeds) for w in range(args.workers)])
    print(f'{sum(counts)} cases run; findings in {args.out}', flush=True)


if __name__ == '__main__':
    main()
