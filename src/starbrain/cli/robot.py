"""``starbrain robot``: the factory arm on MuJoCo (simulate telemetry, train and evaluate world
models, run with a payload change)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from starbrain.cli._common import FormatOption, OutputFormat, _emit, _notes, _open_store, app
from starbrain.cli._send import SendOption, SpeedOption, send_table
from starbrain.core.errors import StarbrainError

robot_app = typer.Typer(
    help="Robot arms (MuJoCo two-link SCARA): simulate, train, evaluate, run.",
    no_args_is_help=True,
)
app.add_typer(robot_app, name="robot")

KindOption = Annotated[
    str, typer.Option(help="World-model kind: nominal, pets or residual (physics + residual).")
]


TaskOption = Annotated[str, typer.Option("--task", help="reach or push.")]
CRITERIA = {
    "reach": "the flange within 1 cm of the goal and under 0.05 m/s after 1.5 s",
    "push": "the puck's centre within 2 cm of the goal after 3 s",
}


def _tasks(task: str, n: int, seed: int) -> list[Any]:
    """``n`` reach or push tasks (``planners.arm_tasks`` / ``planners.arm_push``)."""
    from starbrain.planners.arm_push import sample_push_tasks
    from starbrain.planners.arm_tasks import sample_reach_tasks

    if task not in CRITERIA:
        raise StarbrainError(f"--task {task!r}: use reach or push")
    return (sample_reach_tasks if task == "reach" else sample_push_tasks)(n, seed)


def _true_arm(payload_kg: float, nominal: bool) -> Any:
    from starbrain.sources.robots import NOMINAL_ARM, WORN_ARM

    return (NOMINAL_ARM if nominal else WORN_ARM).with_payload(payload_kg)


@robot_app.command("simulate")
def robot_simulate(
    episodes: Annotated[int, typer.Option(min=1, help="Excitation episodes.")] = 8,
    steps: Annotated[int, typer.Option(min=1, help="Control periods (0.02 s) per episode.")] = 200,
    payload_kg: Annotated[float, typer.Option(help="Payload at the flange [kg].")] = 0.5,
    nominal: Annotated[
        bool, typer.Option("--nominal", help="Simulate the datasheet arm, not the worn one.")
    ] = False,
    arm_id: Annotated[str, typer.Option(help="Arm name in the arm stream.")] = "arm-1",
    first_episode: Annotated[int, typer.Option(help="Number of the first episode.")] = 0,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    send: SendOption = None,
    speed: SpeedOption = 1.0,
) -> None:
    """Simulate arm telemetry (MuJoCo, worn arm by default) into the store's arm stream, or
    with --send stream it (UDP or NATS) into `starbrain run` (arm_udp_port / arm_subject)."""
    from starbrain.sources.robots import simulate_arm

    params = _true_arm(payload_kg, nominal)
    table = simulate_arm(params, episodes, steps, seed, arm_id, first_episode=first_episode)
    if send is not None:
        send_table(table, send, speed, "arm")
        return
    with _open_store() as store:
        res = store.append("arm", table, source=f"sim:mujoco seed={seed}")
    typer.echo(
        f"{table.num_rows} arm rows ({episodes} episodes x {steps + 1}) of {arm_id} "
        f"(payload {payload_kg} kg, {'nominal' if nominal else 'worn'}) stored: {res}"
    )


@robot_app.command("train")
def robot_train(
    kind: KindOption = "residual",
    name: Annotated[str | None, typer.Option(help="Registry name (default arm-KIND).")] = None,
    arm_id: Annotated[str, typer.Option(help="Arm whose telemetry to train on.")] = "arm-1",
    epochs: Annotated[int, typer.Option(min=1, help="Training epochs (early stopping).")] = 200,
    members: Annotated[int, typer.Option(min=1, help="Ensemble members.")] = 5,
    planning_substeps: Annotated[
        int, typer.Option(min=1, help="Prior integration substeps per 0.02 s step.")
    ] = 2,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Fit a world model on the arm stream and register it (payload, damping and friction are
    estimated from the data for the residual kind)."""
    from starbrain.models.arm import fit_arm_model
    from starbrain.models.dynamics import FitConfig, register_world_model

    with _open_store() as store:
        table = store.read("arm", where="arm_id = ?", params=[arm_id])
        if table.num_rows == 0:
            raise StarbrainError(f"no arm telemetry for {arm_id!r}; run `starbrain robot simulate`")
        cfg = FitConfig(n_members=members, hidden=128, depth=3, epochs=epochs, patience=25)
        model, info = fit_arm_model(kind, table, config=cfg, n_substeps=planning_substeps)
        reg = name or f"arm-{kind}"
        register_world_model(store, reg, model, metrics=info, data_info={"arm_id": arm_id})
    rows = [{"name": reg, "kind": kind, "parameter": k, "value": v}
            for k, v in (info.get("estimate") or {}).items()]  # fmt: skip
    rows.append({"name": reg, "kind": kind, "parameter": "n_transitions",
                 "value": info.get("n_transitions")})  # fmt: skip
    _emit(rows, fmt, title=f"registered {reg}")


@robot_app.command("evaluate")
def robot_evaluate(
    name: Annotated[str, typer.Option(help="Registered arm world model.")] = "arm-residual",
    tasks: Annotated[int, typer.Option(min=1, help="Reach tasks.")] = 10,
    payload_kg: Annotated[float, typer.Option(help="True payload [kg].")] = 0.5,
    samples: Annotated[int, typer.Option(min=2, help="MPC samples per step.")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the task sample.")] = 0,
    task: TaskOption = "reach",
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reach or push tasks on the worn MuJoCo arm with MPPI over a registered model: success
    (reach: within 1 cm and under 0.05 m/s after 1.5 s; push: the puck within 2 cm of the goal
    after 3 s), final distance (push: the puck's), MPC time per step."""
    from starbrain.loop.arm_adapt import run_task_episode
    from starbrain.models.dynamics import load_world_model
    from starbrain.planners.arm_tasks import reach_mpc_config
    from starbrain.sources.robots import MujocoArm, Puck

    todo = _tasks(task, tasks, seed)
    with _open_store(read_only=True) as store:
        model, _ = load_world_model(store, name)
    arm_params = _true_arm(payload_kg, False)
    arm = MujocoArm(arm_params, Puck() if task == "push" else None)
    cfg = reach_mpc_config(arm_params, n_samples=samples)
    rows = []
    for i, t in enumerate(todo):
        r, extra = run_task_episode(arm, model, t, cfg, arm_params)
        rows.append(
            {
                "task": i,
                "goal_x_m": t.goal_xy[0],
                "goal_y_m": t.goal_xy[1],
                "success": r.success,
                "final_dist_m": r.final_dist_m,
                **extra,
                "final_speed_mps": r.final_speed_mps,
                "ms_per_step": r.ms_per_step,
            }
        )
    _emit(rows, fmt, title=f"{task} with {name}")
    ok = sum(r["success"] for r in rows)
    _notes(fmt).print(f"success {ok}/{len(rows)} ({CRITERIA[task]})")


@robot_app.command("run")
def robot_run(
    name: Annotated[str, typer.Option(help="Registered arm world model.")] = "arm-residual",
    episodes: Annotated[int, typer.Option(min=2, help="Reach episodes.")] = 6,
    change_at: Annotated[int, typer.Option(min=0, help="First episode with the new payload.")] = 2,
    payload_kg: Annotated[float, typer.Option(help="Payload before the change [kg].")] = 0.5,
    new_payload_kg: Annotated[float, typer.Option(help="Payload after the change [kg].")] = 1.5,
    seed: Annotated[int, typer.Option(help="Seed of the task sample.")] = 0,
    task: TaskOption = "reach",
    samples: Annotated[int, typer.Option(min=2, help="MPC samples per step.")] = 256,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Reach or push episodes while the payload changes: drift detection, re-fit,
    registration (push: final_dist_m is the puck's distance to the goal)."""
    from starbrain.loop.arm_adapt import run_payload_change
    from starbrain.models.dynamics import load_world_model
    from starbrain.planners.arm_tasks import reach_mpc_config

    todo = _tasks(task, episodes, seed)
    arm = _true_arm(payload_kg, False)
    with _open_store() as store:
        model, _ = load_world_model(store, name)
        run = run_payload_change(model, todo, arm, new_payload_kg, change_at,
                                 mpc=reach_mpc_config(arm, n_samples=samples),
                                 store=store, name=name)  # fmt: skip
    _emit(run.episodes, fmt, title=f"payload change, {task}")
    n = _notes(fmt)
    n.print(f"success: {CRITERIA[task]}")
    if run.detected_episode is None:
        n.print("the payload change was not detected")
    else:
        n.print(
            f"detected in episode {run.detected_episode} "
            f"({run.detection_delay} after the change); registered {len(run.registered)}"
        )
