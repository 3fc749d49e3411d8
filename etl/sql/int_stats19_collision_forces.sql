-- The force of every collision a STATS19 casualty or vehicle file names (shared by
-- stg_stats19_casualties.sql and stg_stats19_vehicles.sql): the collision's police_force in `collisions`
-- (loaded in this run or before), else the DfT force code in the collision index (characters 5-6);
-- whether that force is one of those chosen (`--force`); and, when the force cannot be told and not every
-- force is chosen, the reason the row is rejected. Reads raw_stats19_children (the file's rows).
with

source as (
    select distinct nullif(collision_index, '') as collision_index
    from raw_stats19_children
    where nullif(collision_index, '') is not null
),

collision_forces as (
    select distinct collision_index, police_force_code from collisions
),

forces as (
    select * from stats19_forces
),

chosen as (
    select * from stats19_chosen
),

with_code as (
    select
        source.collision_index,
        coalesce(
            collision_forces.police_force_code,
            case when regexp_matches(source.collision_index, '^[0-9]{4}[0-9]{2}')
                 then try_cast(substr(source.collision_index, 5, 2) as integer) end
        ) as police_force_code
    from source
    left join collision_forces on collision_forces.collision_index = source.collision_index
),

final as (
    select
        with_code.collision_index,
        with_code.police_force_code,
        forces.force_id,
        case
            when forces.force_id is null and not exists (select 1 from chosen where chosen.all_forces)
                then 'the force of collision ' || with_code.collision_index || ' is unknown: it is not in the'
                     || ' collisions table and its index carries no DfT police force code (load its collision file too)'
        end as force_reject_reason,
        forces.force_id is null
            or exists (select 1 from chosen
                       where chosen.all_forces or chosen.police_force_code = with_code.police_force_code) as in_scope
    from with_code
    left join forces on forces.police_force_code = with_code.police_force_code
)

select * from final
