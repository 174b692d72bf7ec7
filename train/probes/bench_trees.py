"""Issue 22 on a CPU with native bf16: each family's training img/s in the tree before issue 22 (/tmp/before, from
`git worktree add /tmp/before fcfe5ff^`) and now (amp default; amp off; lazy MA-GP); 2 threads, quiet machine.
Run from the repository root: PYTHONPATH=. python train/probes/bench_trees.py [families]"""
import json, os, subprocess, sys
DATA = os.path.expanduser("~/t2i-data/synthbirds-64")
FAM = sys.argv[1:] or ["dfgan", "ssagan", "csagan", "swfgan", "ecagan", "caegan", "ffgan", "cigan"]
ONE = {"dfgan", "ssagan", "csagan", "swfgan"}
def run(tree, fam, over):
    code = ("import torch, json; torch.set_num_threads(2); from t2i.eval.bench import bench_train; "
            f"r = bench_train({fam!r}, steps=8, data={DATA!r}" + (f", overrides={over!r}" if over else "") + "); "
            "print('RESULT', json.dumps(r))")
    p = subprocess.run([sys.executable, "-c", code], cwd=tree, capture_output=True, text=True,
                       env={"PYTHONPATH": tree, "PATH": os.environ["PATH"], "HOME": os.environ["HOME"]})
    line = [l for l in p.stdout.splitlines() if l.startswith("RESULT")]
    if not line:
        return {"error": p.stderr[-500:]}
    return json.loads(line[0][7:])
out = {}
for fam in FAM:
    arms = [("before", "/tmp/before", None), ("now", ".", None), ("now_fp32", ".", {"train.amp": False})]
    if fam in ONE:
        arms.append(("now_magp4", ".", {"model.magp_every": 4}))
    out[fam] = {}
    for name, tree, over in arms:
        r = run(tree, fam, over)
        out[fam][name] = r
        print(fam, name, r.get("img_per_s", r), flush=True)
    json.dump(out, open("results/bench_train_bf16_session23.json", "w"), indent=1)
