# Every figure once: the rule that draws it, what it reads, its report caption and the claims it shows.
# figures.smk makes one rule per entry and report.smk one caption per entry: adding a figure is one entry
# here plus its plot script (workflow/scripts/plot_*.py, calling a function of curse_of_memory.figures).

SPECTRAL_CAPTIONS = {
    "fig7": {
        "title": "Figure 7 at spectral norm",
        "plots": "Figure 7's models perturbed with each parameter tensor's noise scaled to spectral norm beta "
        "(a matrix's largest singular value, a vector's 2-norm: Definition 3.4's block norm) instead of the "
        "authors' max norm.",
        "paper": "the same contrast as Figure 7; the paper perturbs in the max norm (its code), its definition "
        "uses this one.",
    },
    "fig8": {
        "title": "Figure 8 at spectral norm",
        "plots": "Figure 8's models perturbed with each parameter tensor's noise at spectral norm beta "
        "(Definition 3.4).",
        "paper": "the same stability as Figure 8; the paper perturbs in the max norm (its code), its definition "
        "uses this one.",
    },
}
MAIN_FIGURES = {
    "fig7": dict(
        panels=FIG7_PANELS,
        columns=len(FIG7["parameterizations"]),
        title=f"Figure 7: {FIG7['activation']} RNN on the {FIG7['target']} target, "
        "without and with stable reparameterisation",
        caption={
            "title": f"Figure 7 -- {FIG7['activation']} RNNs on the {FIG7['target']} target",
            "plots": f"E_m(beta) of trained {FIG7['activation']} RNNs, one panel per parameterisation "
            f"({', '.join(FIG7['parameterizations'])}), m = {', '.join(map(str, config['grid']['widths']))}.",
            "paper": "(ReLU RNNs on polynomial memory, vanilla against softplus) without reparameterisation "
            "the approximation is unstable (consecutive widths' curves cross, wider becomes worse, at beta "
            "moving toward 0), with softplus it is stable (wider stays below narrower up to some beta_0).",
        },
        claims=("7",),
    ),
    "fig8": dict(
        panels=FIG8_PANELS,
        columns=len(FIG8["activations"]),
        title=f"Figure 8: {', '.join(FIG8['parameterizations'])} reparameterisation with nonlinear "
        f"activations on the {FIG8['target']} target",
        caption={
            "title": f"Figure 8 -- {', '.join(FIG8['parameterizations'])} reparameterisation with "
            f"{' and '.join(FIG8['activations'])}",
            "plots": f"E_m(beta) of trained {' and '.join(FIG8['activations'])} RNNs on the {FIG8['target']} "
            f"target, one row of panels per parameterisation ({', '.join(FIG8['parameterizations'])}).",
            "paper": "(softplus with hardtanh and tanh on polynomial memory) the approximation is stable, read "
            "as in Figure 7 (crossing points of consecutive widths do not move toward 0).",
        },
        claims=("8",),
    ),
}

FIGURES = []
if LSTSQ:
    FIGURES += [
        Figure(
            "fig1",
            "plot_perturbation.py",
            "Figure 1",
            {
                "title": "Figure 1 -- linear RNNs fitted by least squares",
                "plots": "E_m(beta) of linear RNN kernels sum_i c_i exp(-lambda_i t) fitted to rho on t = 1..100 "
                "(no training), (a) rho = 0.9^t, (b) rho = (t+1)^-1.1, widths m = 2 ... 14; dotted lines are "
                "consecutive-width crossing points.",
                "paper": "(a) exponential memory: the curves of all m share one crossing region, a radius "
                "beta_0 > 0, and E_m(0) falls with m. (b) polynomial memory: crossing points move left as m "
                "grows, so no beta_0 survives.",
            },
            {"table": "results/lstsq/perturbation.csv"},
            {
                "panels": FIG1_PANELS,
                "columns": len(FIG1_PANELS),
                "title": "Figure 1: linear RNNs fitted by least squares, (a) exponential and (b) polynomial memory",
            },
            ("1a", "1b"),
        ),
        Figure(
            "fig4",
            "plot_perturbation.py",
            "Figure 4",
            {
                "title": "Figure 4 -- Figure 1b with stable reparameterisation",
                "plots": "E_m(beta) of the least-squares fits of Figure 1b with the rates reparameterised as "
                "exp(w) and log(1 + exp(w)).",
                "paper": "with stable reparameterisation the curves no longer shift left -- the approximation "
                "is stable.",
            },
            {"table": "results/lstsq/perturbation.csv"},
            {
                "panels": FIG4_PANELS,
                "columns": len(FIG4_PANELS),
                "title": f"Figure 4: Figure 1b with stable reparameterisation of the rates ({FIG4['target']})",
            },
            ("4",),
        ),
    ]
STUDY_FIGURES = {
    "fig2": (
        "Figure 2: a nonlinear functional with polynomial memory, tanh RNNs",
        {
            "title": "Figure 2 -- a nonlinear functional with polynomial memory",
            "plots": "Left, the measured (Heaviside, sup over amplitudes) memory function of y = tanh(scale * z), "
            "z the linear functional of rho = (t+1)^-1.5, with exponential and power-law fits. Right, E_m(beta) "
            "of the tanh RNN students of growing width.",
            "paper": "the crossing points shift left as m grows -- the nonlinear functional is not stably "
            "approximated.",
        },
    ),
    "fig12": (
        "Figure 12: a random causal transformer teacher, RNN students",
        {
            "title": "Figure 12 -- a transformer teacher",
            "plots": "Left, the measured memory function of a random causal transformer. Right, E_m(beta) of its "
            "RNN students.",
            "paper": "larger RNN students fail to improve the fit.",
        },
    ),
}
for _name, (_title, _caption) in STUDY_FIGURES.items():
    _study = config["figures"][_name]["study"]
    if has_study(_study):
        _panels = _study_panels(_study)
        FIGURES.append(
            Figure(
                _name,
                "plot_study.py",
                f"Figure {_name[3:]}",
                _caption,
                {
                    "draws": cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(_panels)),
                    "memory": f"results/memory/targets/{_panels[0]['target']}.csv",
                },
                {"cells": panel_cells(_panels), "panels": _panels, "title": _title},
                (_name[3:],),
            )
        )
if has_study(FIG3_STUDY):
    FIGURES.append(
        Figure(
            "fig3",
            "plot_teachers.py",
            "Figure 3",
            {
                "title": "Figure 3 -- teacher filtering",
                "plots": "Left, E_m(beta) of the students of one kept teacher. Right, every teacher's memory "
                "function: kept teachers in colour with exponential fits (dashed), filtered-out teachers in grey "
                "(results/summary/teachers.csv).",
                "paper": "every teacher that RNNs approximate with a positive stability radius has an "
                "exponentially decaying memory.",
            },
            {
                "teachers": "results/summary/teachers.csv",
                "draws": cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(study_panels(FIG3_STUDY))),
                "memory": expand("results/memory/targets/{target}.csv", target=FIG3_TEACHERS),
            },
            {
                "cells": panel_cells(study_panels(FIG3_STUDY)),
                "targets": FIG3_TEACHERS,
                "title": "Figure 3: teacher filtering -- the teachers RNNs approximate stably have exponential memory",
            },
            ("3",),
        )
    )
for _name, _figure in MAIN_FIGURES.items():
    for _suffix, _norm in perturbation_variants(MAIN_STUDY):
        FIGURES.append(
            _perturbation_panels(
                _name,
                _figure["panels"],
                _figure["columns"],
                _figure["title"],
                _suffix,
                _norm,
                SPECTRAL_CAPTIONS[_name] if _suffix else _figure["caption"],
                _figure["claims"],
            )
        )
if CLASSIFICATION["enabled"]:
    FIGURES.append(
        Figure(
            "fig9",
            "plot_classification.py",
            "Figure 9",
            {
                "title": "Figure 9 and Table 1 -- sequential image classification",
                "plots": "RNNs reading handwritten digits one pixel per step (scan-line order) and classifying "
                "them from the last hidden state; training and validation loss and accuracy per epoch for each "
                "parameterisation of the recurrent weights (direct, the unreparameterised baseline, dashed), "
                "mean and standard error over seeds, every parameterisation of a seed started from the same "
                "weights. Table 1 below: test loss and accuracy of each run's best-validation checkpoint.",
                "paper": "Stable reparameterisation speeds up optimisation and ends at least as good: test "
                "accuracy softplus > exp ~ inverse > direct (10 epochs of MNIST, 3 repeats).",
            },
            {"history": "results/summary/classification.csv"},
            {"baseline": CLASSIFICATION["baseline"]},
            ("9",),
        )
    )
FIGURES += [
    Figure(
        "fig10",
        "plot_memory_definitions.py",
        "Figure 10",
        {
            "title": "Figure 10 -- two definitions of the memory function",
            "plots": "Memory functions of randomly initialised RNN, GRU, LSTM (torch modules) and S4D models from "
            "Heaviside and impulse inputs: median over seeds with a 10-90% band; panel titles give the agreement "
            "numbers.",
            "paper": "the Heaviside and impulse definitions agree numerically.",
        },
        {"curves": "results/memory/definitions.csv", "agreement": "results/summary/memory_definitions.csv"},
        claims=("10",),
    ),
    Figure(
        "fig11",
        "plot_nondecaying.py",
        "Figure 11",
        {
            "title": "Figure 11 -- memory that does not decay",
            "plots": "The 2-D tanh RNN with W = [[1, 1], [-4, -3]]: phase portrait of the increment field with its "
            "attractors, its memory function and a step response; memory functions of random tanh RNNs (grey: "
            "decaying).",
            "paper": "tanh RNNs can have memory that does not decay; the 2-D example has attractors (0,0), (1,1), "
            "(-1,-1).",
        },
        {"memory": "results/memory/nondecaying.csv"},
        {"weights": config["nondecaying_memory"]["weights"]},
        ("11",),
    ),
    Figure(
        "perturbation_grid",
        "plot_perturbation.py",
        "Main grid",
        {
            "title": "Perturbation errors of the whole grid",
            "plots": "E_m(beta) of every activation and parameterisation on one target, one panel each.",
            "paper": "the unreparameterised RNNs are unstable on pol memory, the reparameterised ones stable.",
        },
        {"draws": lambda w: cell_paths(f"results/perturbation/{CELL}.csv", panel_cells(grid_panels(w)))},
        {
            "cells": lambda w: panel_cells(grid_panels(w)),
            "panels": grid_panels,
            "columns": len(config["grid"]["parameterizations"]),
            "title": lambda w: f"Perturbation error E_m(beta), {w.target} target",
        },
        ("7/8 grid",),
        stem="perturbation_{target}",
        wildcards={"target": config["grid"]["targets"]},
    ),
    Figure(
        "memory_figure",
        "plot_memory.py",
        "Main grid",
        {
            "title": "Memory functions of trained RNNs",
            "plots": "Heaviside memory functions of the widest trained models against the target's rho.",
            "paper": "trained models reproduce the target's memory (the authors' notebooks).",
        },
        {"memory": "results/summary/memory.csv"},
        {"width": max(config["grid"]["widths"]), "study": MAIN_STUDY},
        stem="memory_trained",
    ),
    Figure(
        "stability_figure",
        "plot_stability.py",
        "Main grid",
        {
            "title": "Stability radius and margin of the main grid",
            "plots": "Stability radius and smallest eigenvalue of W_hat against width, per activation, "
            "parameterisation and target.",
            "paper": "The authors' notebooks: exp targets keep a stability margin near 0.6, pol targets drive it "
            'toward 0; the claim row "curse" compares the two targets\' crossing points width pair by width '
            "pair (its second reading: their radii).",
        },
        {"stability": "results/summary/stability.csv"},
        {"study": MAIN_STUDY},
        ("7/8 grid",),
        stem="stability_vs_width",
    ),
    Figure(
        "stability_summary",
        "plot_stability_summary.py",
        "Summary",
        {
            "title": "Stability summary -- every study at a glance",
            "plots": "Stability radius (crosses: crossing points) and E_m(0)/E_null against width for every "
            "(study, target, parameterisation), median over activations and seeds.",
            "paper": "stable families keep their radius as E_m(0) falls; the curse of memory shows as radii that "
            "fall with m.",
        },
        {"stability": "results/summary/stability.csv", "crossings": "results/summary/crossings.csv"},
    ),
    Figure(
        "gradient_ratio",
        "plot_gradient_ratio.py",
        "Beyond the paper",
        {
            "title": "Gradient-over-weight ratio along training",
            "plots": "The largest |g'(w)|/g(w)^2 over the modes of W_hat per epoch (median over models, one line "
            "per parameterisation; one column per study, the classification study's included) and against the "
            "stability margin (every epoch of every model); modes held at 0 (ratio infinite) are left out.",
            "paper": "StableSSM (arXiv 2311.14495): a stable reparameterisation bounds how far a step moves an "
            "eigenvalue relative to its size; best keeps the ratio proportional to |w|, the others let it grow "
            "as a mode nears the stability boundary.",
        },
        {"ratios": "results/summary/gradient_ratio.csv"},
    ),
]
if WORST_CASE_NORMS:
    FIGURES.append(
        Figure(
            "worst_case",
            "plot_worst_case.py",
            "Beyond the paper",
            {
                "title": "Worst-case perturbation errors",
                "plots": f"E_m(beta) of the main grid's RNNs of one activation at {WORST_CASE_CLAIM_NORM} norm beta: "
                "the random draws' max (solid) against projected gradient ascent from the best draws (dashed), "
                "median over seeds per width; right, every model's stability radius from the worst case against "
                "the random draws'. The claims table's worst-case column re-evaluates the main grid's claims on "
                "these curves.",
                "paper": "Definition 3.4's E_m(beta) is a sup over the beta-ball; the authors sample it with random "
                "draws (a lower bound) and name an optimisation-based estimate as open work.",
            },
            {
                "worst_case": rules.summarize_worst_case.output.table,
                "stability": rules.summarize_worst_case.output.stability,
            },
            {"activation": lambda wildcards: wildcards.activation, "norm": WORST_CASE_CLAIM_NORM},
            stem="worst_case_{activation}",
            wildcards={"activation": config["grid"]["activations"]},
        )
    )
if LEARNING_RATE["enabled"]:
    FIGURES.append(
        Figure(
            "learning_rate_stability",
            "plot_learning_rate.py",
            "Beyond the paper",
            {
                "title": "Learning-rate stability",
                "plots": f"{LEARNING_RATE['activation']} RNNs of width {', '.join(map(str, LEARNING_RATE['widths']))} "
                "trained on each target at learning rates "
                f"{', '.join(f'{rate:g}' for rate in LEARNING_RATE['learning_rates'])}, every parameterisation from "
                "the same initial model: the final validation loss (median over seeds; x a diverged run) and the "
                f"fraction of runs that diverged ({LEARNING_RATE['baseline']} dashed). The largest stable learning "
                "rate per parameterisation is results/summary/largest_stable_learning_rate.md.",
                "paper": "StableSSM (arXiv 2311.14495): stable reparameterisations train at larger learning rates "
                "than the direct one, and best, whose gradient-over-weight ratio is bounded, at the largest.",
            },
            {"sweep": rules.summarize_learning_rate.output.table},
            {"baseline": LEARNING_RATE["baseline"]},
            ("lr",),
        )
    )
