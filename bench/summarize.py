#!/usr/bin/python3
"""Markdown table from the JSON lines of bench/run_matrix.sh (fastest median per configuration
when a configuration ran several times).

    /usr/bin/python3 bench/summarize.py results.jsonl [more.jsonl ...]
"""
import json
import sys


def main():
    best = {}
    for path in sys.argv[1:]:
        with open(path) as f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                rec = json.loads(line)
                r = rec.get('result', rec)
                key = (r['model'], r['batch'], r.get('composite', r.get('rule')), r.get('target', 'predicted'), r['threads'],
                       r.get('conv_algo', '?'))
                if key not in best or r['lrp_ms'] < best[key]['lrp_ms']:
                    best[key] = r
    print('| model | batch | composite/rule | threads | conv | forward ms | gradient ms | LRP ms | LRP/forward | '
          'peak RSS MiB |')
    print('|---|---:|---|---:|---|---:|---:|---:|---:|---:|')
    for key in sorted(best):
        r = best[key]
        print('| %s | %d | %s | %d | %s | %.2f | %.2f | %.2f | %.2f | %.0f |' % (
            key[0], key[1], key[2], key[4], key[5], r['forward_ms'], r['gradient_ms'], r['lrp_ms'],
            r['lrp_ms'] / r['forward_ms'], r['peak_rss_mb']))


if __name__ == '__main__':
    main()
