#!/usr/bin/python3
"""Time AttnLRP on a Llama-style decoder in PyTorch, the way LXT's efficient mode computes it for
Llama, beside `lrp bench MODEL --composite attnlrp`. The network is tests/fixtures/llama_hf's
(Llama as Hugging Face's code computes it: RMSNorm, rotary tables and the causal mask built in the
graph, grouped-query attention, SwiGLU), at a size given here (default: vocabulary 32000, width
512, 8 layers of 8 heads with 4 key/value heads, MLP 1408, 128 tokens: 36 M parameters), random
weights (manual_seed(0)), every position's logits; the explained logit is the most likely next
token at the last position. LXT is not packaged for Debian; its backward (RMSNorm's rsqrt and
SiLU's sigmoid detached, the attention's products and SwiGLU's product passing half the gradient
to each factor) is the fixture's, and the relevance per token is the word embedding times its
gradient, summed over the embedding.

    /usr/bin/python3 bench/peers/llm_attnlrp_bench.py --export build/peer_models/llama.onnx
    /usr/bin/python3 bench/peers/llm_attnlrp_bench.py --batch 1 --runs 5 --warmup 1 --threads 2 --json
    build/lrp bench build/peer_models/llama.onnx --composite attnlrp --target position:-1 --batch 1 --runs 5 --warmup 1 --threads 2 --json

Protocol as zennit_bench.py: torch.set_num_threads(T), eval mode, float32, token ids uniform over
the vocabulary from Generator().manual_seed(0), tuned glibc malloc unless --default-malloc.
forward_ms: model(ids) under no_grad; gradient_ms: forward + backward of the seed (one-hot of the
explained logit times the logit); lrp_ms: the same with AttnLRP's backward. Medians over --runs
calls after --warmup; peak_rss_mb: this process's peak RSS. --export writes the model (dynamic
batch, opset 17) and exits.
"""
import argparse
import importlib.util
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, 'tests', 'fixtures'))
from zennit_bench import add_protocol_args, ensure_environment, summarize, time_calls  # noqa: E402  (same protocol; imports no Zennit)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--tokens', type=int, default=128)
    parser.add_argument('--vocab', type=int, default=32000)
    parser.add_argument('--width', type=int, default=512)
    parser.add_argument('--layers', type=int, default=8)
    parser.add_argument('--heads', type=int, default=8)
    parser.add_argument('--kv-heads', type=int, default=4)
    parser.add_argument('--hidden', type=int, default=1408)
    add_protocol_args(parser)
    parser.add_argument('--export', help='write the ONNX model here and exit')
    return parser.parse_args()


def fixture():
    spec = importlib.util.spec_from_file_location('llama_hf', os.path.join(ROOT, 'tests', 'fixtures', 'llama_hf', 'make_fixtures.py'))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(args, llama):
    import torch
    torch.manual_seed(0)
    return llama.TinyLlama(vocab=args.vocab, dim=args.width, heads=args.heads, kv_heads=args.kv_heads, hidden=args.hidden,
                           depth=args.layers).eval()


def main():
    args = parse_args()
    llama = fixture()
    if args.export:
        import torch
        model = build(args, llama)
        ids = torch.randint(0, args.vocab, (1, args.tokens), generator=torch.Generator().manual_seed(0))
        torch.onnx.export(model, ids, args.export, opset_version=17, input_names=['input_ids'], output_names=['logits'],
                          dynamic_axes={'input_ids': {0: 'batch'}, 'logits': {0: 'batch'}})
        return
    ensure_environment(args)
    import torch
    torch.set_num_threads(args.threads)
    model = build(args, llama)
    ids = torch.randint(0, args.vocab, (args.batch, args.tokens), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        logits = model(ids)  # every position's, as the exported model computes them
    seed = torch.zeros_like(logits)
    rows = torch.arange(args.batch)
    best = logits[:, -1].argmax(1)
    seed[rows, -1, best] = logits[rows, -1, best]

    def forward():
        with torch.no_grad():
            model(ids)

    def embedding_times_gradient():
        g, = torch.autograd.grad(model(ids), model.embedded, seed)
        return (model.embedded * g).sum(-1)

    detail = {'forward': time_calls(forward, args.runs, args.warmup),
              'gradient': time_calls(embedding_times_gradient, args.runs, args.warmup)}
    llama.RULES['on'] = True
    detail['lrp'] = time_calls(embedding_times_gradient, args.runs, args.warmup)
    relevance = embedding_times_gradient()
    result = {'tool': 'pytorch (LXT efficient-mode AttnLRP)', 'model': 'llama', 'composite': 'attnlrp', 'batch': args.batch,
              'tokens': args.tokens, 'threads': args.threads, 'runs': args.runs, 'warmup': args.warmup,
              'parameters': sum(p.numel() for p in model.parameters())}
    summarize(result, detail)
    result['relevance_sum_sample0'] = float(relevance[0].sum())
    print(f'pytorch llama attnlrp batch {args.batch} tokens {args.tokens} threads {args.threads}: forward {result["forward_ms"]} ms, '
          f'gradient {result["gradient_ms"]} ms, AttnLRP {result["lrp_ms"]} ms, peak RSS {result["peak_rss_mb"]} MiB', flush=True)
    if args.json:
        print(json.dumps(result), flush=True)


if __name__ == '__main__':
    main()
